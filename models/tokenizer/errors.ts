import { InputError } from "../../runtime/model-folder.js";

/** A tokenizer file that is malformed, or asks for something not implemented (the message names the field). */
export class TokenizerError extends InputError {}
