// The TensorCore (.ta) language for JupyterLab 4: a CodeMirror 6 stream tokenizer registered for
// the tensorcore kernel's language (notebook cells) and for .ta files. The word lists (keywords,
// precisions, memory spaces, layouts, intrinsics, activations, magics) are generated from the
// compiler's tables at build time (scripts/build-labextension.mjs writes words.json).

import { IEditorLanguageRegistry } from "@jupyterlab/codemirror";
import { LanguageSupport, StreamLanguage } from "@codemirror/language";
import WORDS from "./words.json";

export const MIME = "text/x-tensorcore";

// Word class → token type. Types in the JupyterLab theme's palette, so each class has a colour.
const CLASSES = [
  ["keywords", "keyword"],
  ["types", "variable-2"],
  ["precisions", "variable-2"],
  ["spaces", "atom"],
  ["layouts", "atom"],
  ["intrinsics", "builtin"],
  ["activations", "atom"],
  ["constants", "atom"],
];

export function tensorcoreParser(words) {
  const kind = new Map();
  for (const [cls, token] of CLASSES) for (const w of words[cls] ?? []) if (!kind.has(w)) kind.set(w, token);
  const magics = new Set(words.magics ?? []);
  return {
    name: "tensorcore",
    startState: () => ({ comment: false }),
    copyState: (s) => ({ comment: s.comment }),
    token(stream, state) {
      if (state.comment) {
        if (stream.skipTo("*/")) { stream.pos += 2; state.comment = false; } else stream.skipToEnd();
        return "comment";
      }
      if (stream.sol()) {
        // A magic line: %name or %%name at the start of a line; the rest is its arguments.
        const m = stream.match(/^\s*(%%?)([A-Za-z_]\w*)/);
        if (m) return magics.has(m[2]) ? "meta" : "invalid";
      }
      if (stream.eatSpace()) return null;
      if (stream.match("//")) { stream.skipToEnd(); return "comment"; }
      if (stream.match("/*")) { state.comment = true; return "comment"; }
      if (stream.match(/^"(?:[^"\\]|\\.)*"?/)) return "string";
      if (stream.match(/^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/)) return "number";
      if (stream.match(/^[A-Za-z_]\w*/)) return kind.get(stream.current()) ?? "variable";
      if (stream.match(/^(?:\+:|\.\.|[-+*/=<>!]=?|[%&|^])/)) return "operator";
      if (stream.match(/^[{}()[\]]/)) return "bracket";
      stream.next();
      return null;
    },
    languageData: { commentTokens: { line: "//", block: { open: "/*", close: "*/" } } },
  };
}

export const tensorcoreLanguage = StreamLanguage.define(tensorcoreParser(WORDS));

const plugin = {
  id: "tensorcore-lab:language",
  description: "Syntax highlighting for TensorCore (.ta) notebook cells and files",
  autoStart: true,
  requires: [IEditorLanguageRegistry],
  activate: (app, languages) => {
    languages.addLanguage({
      name: "tensorcore",
      displayName: "TensorCore",
      alias: ["ta"],
      mime: MIME,
      extensions: ["ta"],
      support: new LanguageSupport(tensorcoreLanguage),
    });
    // .ta files open in the editor with this language (and get a file type in the launcher's sense).
    app.docRegistry.addFileType({ name: "tensorcore", displayName: "TensorCore", extensions: [".ta"], mimeTypes: [MIME] });
  },
};

export default plugin;
