// Syntax tree produced by the parser. Names are unresolved here; the checker resolves them
// into the typed IR (ir.ts), which is what both back ends consume.

import { Span } from "./source.js";

export type Expr = NumberLit | NameRef | IndexExpr | UnaryExpr | BinaryExpr | CallExpr;

export interface NumberLit { kind: "num"; value: number; isInt: boolean; span: Span }
export interface NameRef { kind: "name"; name: string; span: Span }
export interface IndexExpr { kind: "index"; target: Expr; items: IndexItem[]; span: Span }
export interface UnaryExpr { kind: "unary"; op: "-" | "+"; operand: Expr; span: Span }
export interface BinaryExpr { kind: "binary"; op: "+" | "-" | "*" | "/" | "%"; left: Expr; right: Expr; span: Span }
export interface CallExpr { kind: "call"; callee: string; calleeSpan: Span; args: Expr[]; span: Span }

/** One position inside `x[...]`: a full axis `:`, an index that drops the axis, or a window `start +: LEN`. */
export type IndexItem =
  | { kind: "all"; span: Span }
  | { kind: "at"; index: Expr; span: Span }
  | { kind: "window"; start: Expr; length: Expr; span: Span };

export interface TensorTypeSyntax {
  kind: "tensor";
  precision: { name: string; span: Span };
  dims: Expr[];
  space?: { name: string; span: Span };
  layout?: { name: string; tile?: [Expr, Expr]; span: Span };
  span: Span;
}

export type Stmt = DeclStmt | AssignStmt | CallStmt | BatchStmt | ConstDecl | ExprStmt;

export interface DeclStmt { kind: "decl"; typeName: string; typeSpan: Span; name: string; nameSpan: Span; init?: Expr; span: Span }
export interface AssignStmt { kind: "assign"; target: Expr; value: Expr; span: Span }
export interface CallStmt { kind: "callstmt"; call: CallExpr; span: Span }
export interface BatchStmt { kind: "batch"; variable: string; varSpan: Span; start: Expr; end: Expr; step?: Expr; body: Stmt[]; span: Span }
export interface ExprStmt { kind: "exprstmt"; expr: Expr; span: Span }

export interface ConstDecl { kind: "const"; name: string; nameSpan: Span; value: Expr; span: Span }
export interface TypeDecl { kind: "type"; name: string; nameSpan: Span; type: TensorTypeSyntax; span: Span }
export interface TargetDecl { kind: "target"; name: string; entries: { key: string; value: string | number; span: Span }[]; span: Span }
export interface Param { typeName: string; typeSpan: Span; name: string; nameSpan: Span }
export interface KernelDecl { kind: "kernel"; name: string; nameSpan: Span; params: Param[]; body: Stmt[]; span: Span; endSpan: Span }

export type Item = ConstDecl | TypeDecl | TargetDecl | KernelDecl | Stmt;

export interface Program { items: Item[] }
