// The word lists of the JupyterLab language extension (labextension/), from the compiler's and
// the kernel's own tables: scripts/build-labextension.mjs writes them into the extension at build
// time, and a unit test checks that the shipped, prebuilt extension still carries every word.

import { ACT_KINDS, BUILTIN_CONSTS, INTRINSIC_LIST, KEYWORDS } from "../compiler/intrinsics.js";
import { LAYOUTS, PRECISIONS, SPACES } from "../compiler/types.js";
import { MAGIC_LIST } from "./magics.js";

export interface LanguageWords {
  keywords: string[];
  types: string[];
  precisions: string[];
  spaces: string[];
  layouts: string[];
  intrinsics: string[];
  activations: string[];
  constants: string[];
  magics: string[];
}

export function languageWords(): LanguageWords {
  return {
    keywords: KEYWORDS.filter((k) => k !== "Tensor"),
    types: ["Tensor"],
    precisions: [...PRECISIONS],
    spaces: [...SPACES],
    layouts: [...LAYOUTS],
    intrinsics: INTRINSIC_LIST.map((i) => i.name),
    activations: Object.keys(ACT_KINDS),
    constants: Object.keys(BUILTIN_CONSTS),
    // %%time is a cell magic too, though its table row is the line magic's
    magics: MAGIC_LIST.map((m) => m.name),
  };
}
