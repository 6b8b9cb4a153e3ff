;; The interpreter's f32 matrix-product kernels in WebAssembly SIMD (interpreter/fast/wasm-kernels.ts).
;; Each computes exactly what its TypeScript twin in interpreter/fast/products.ts computes, in the same order
;; (the order matmulF32 in interpreter/ops.ts defines):
;; f32 operands widened to f64 (their products are then exact), f64 sums, no fused multiply-add.
;; Two f64 lanes hold two output columns (or two of matvec's four partial sums), so every output
;; element is summed as in ops.ts and the results are bit-identical. Pointers are byte offsets
;; into the shared memory the interpreter keeps weights and per-thread scratch in.
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; One row of matmulF64Rows's "fewer than four rows" branch, columns [j0, j1) (j1 - j0 even or not):
  ;;   t[j] += (x0·B[k][j] + x1·B[k+1][j]) + (x2·B[k+2][j] + x3·B[k+3][j])   k = 0, 4, 8, ...
  ;;   t[j] += x·B[k][j]                                                    the last K mod 4 rows
  ;; a: K f32 (the row of A), b: B {K,N} f32 row-major, t: N f64.
  (func $row_quads (export "row_quads") (param $a i32) (param $b i32) (param $K i32) (param $N i32) (param $t i32) (param $j0 i32) (param $j1 i32)
    (local $k i32) (local $j i32) (local $jp i32) (local $K4 i32) (local $rs i32) (local $o i32) (local $tp i32)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local $s0 f64) (local $s1 f64) (local $s2 f64) (local $s3 f64)
    (local.set $rs (i32.shl (local.get $N) (i32.const 2)))
    (local.set $jp (i32.add (local.get $j0) (i32.and (i32.sub (local.get $j1) (local.get $j0)) (i32.const -2))))
    (local.set $K4 (i32.and (local.get $K) (i32.const -4)))
    (block $kdone (loop $kl
      (br_if $kdone (i32.ge_u (local.get $k) (local.get $K4)))
      (local.set $o (i32.add (local.get $a) (i32.shl (local.get $k) (i32.const 2))))
      (local.set $s0 (f64.promote_f32 (f32.load (local.get $o))))
      (local.set $s1 (f64.promote_f32 (f32.load offset=4 (local.get $o))))
      (local.set $s2 (f64.promote_f32 (f32.load offset=8 (local.get $o))))
      (local.set $s3 (f64.promote_f32 (f32.load offset=12 (local.get $o))))
      (local.set $x0 (f64x2.splat (local.get $s0)))
      (local.set $x1 (f64x2.splat (local.get $s1)))
      (local.set $x2 (f64x2.splat (local.get $s2)))
      (local.set $x3 (f64x2.splat (local.get $s3)))
      (local.set $r0 (i32.add (local.get $b) (i32.mul (local.get $k) (local.get $rs))))
      (local.set $r1 (i32.add (local.get $r0) (local.get $rs)))
      (local.set $r2 (i32.add (local.get $r1) (local.get $rs)))
      (local.set $r3 (i32.add (local.get $r2) (local.get $rs)))
      (local.set $j (local.get $j0))
      (block $jdone (loop $jl
        (br_if $jdone (i32.ge_u (local.get $j) (local.get $jp)))
        (local.set $o (i32.shl (local.get $j) (i32.const 2)))
        (local.set $tp (i32.add (local.get $t) (i32.shl (local.get $j) (i32.const 3))))
        (v128.store (local.get $tp)
          (f64x2.add (v128.load (local.get $tp))
            (f64x2.add
              (f64x2.add (f64x2.mul (local.get $x0) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $r0) (local.get $o)))))
                         (f64x2.mul (local.get $x1) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $r1) (local.get $o))))))
              (f64x2.add (f64x2.mul (local.get $x2) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $r2) (local.get $o)))))
                         (f64x2.mul (local.get $x3) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $r3) (local.get $o)))))))))
        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (br $jl)))
      (if (i32.lt_u (local.get $jp) (local.get $j1)) (then ;; the odd last column
        (local.set $o (i32.shl (local.get $jp) (i32.const 2)))
        (local.set $tp (i32.add (local.get $t) (i32.shl (local.get $jp) (i32.const 3))))
        (f64.store (local.get $tp)
          (f64.add
            (f64.load (local.get $tp))
            (f64.add
              (f64.add
                (f64.mul (local.get $s0) (f64.promote_f32 (f32.load (i32.add (local.get $r0) (local.get $o)))))
                (f64.mul (local.get $s1) (f64.promote_f32 (f32.load (i32.add (local.get $r1) (local.get $o))))))
              (f64.add
                (f64.mul (local.get $s2) (f64.promote_f32 (f32.load (i32.add (local.get $r2) (local.get $o)))))
                (f64.mul (local.get $s3) (f64.promote_f32 (f32.load (i32.add (local.get $r3) (local.get $o))))))))))
      )
      (local.set $k (i32.add (local.get $k) (i32.const 4)))
      (br $kl)))
    (block $rdone (loop $rl ;; the last K mod 4 rows, one at a time
      (br_if $rdone (i32.ge_u (local.get $k) (local.get $K)))
      (local.set $s0 (f64.promote_f32 (f32.load (i32.add (local.get $a) (i32.shl (local.get $k) (i32.const 2))))))
      (local.set $r0 (i32.add (local.get $b) (i32.mul (local.get $k) (local.get $rs))))
      (local.set $j (local.get $j0))
      (block $jdone2 (loop $jl2
        (br_if $jdone2 (i32.ge_u (local.get $j) (local.get $j1)))
        (local.set $tp (i32.add (local.get $t) (i32.shl (local.get $j) (i32.const 3))))
        (f64.store (local.get $tp) (f64.add (f64.load (local.get $tp))
          (f64.mul (local.get $s0) (f64.promote_f32 (f32.load (i32.add (local.get $r0) (i32.shl (local.get $j) (i32.const 2))))))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $jl2)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $rl)))
  )

  ;; matmulF64Rows's four-row branch, columns [j0, j1): for k = 0 .. K-1, t_r[j] += x_r·B[k][j] for
  ;; the four rows r (x_r = a[r·K + k]); t is 4 rows of N f64 (row r at t + 8·r·N).
  (func $rows4 (export "rows4") (param $a i32) (param $b i32) (param $K i32) (param $N i32) (param $t i32) (param $j0 i32) (param $j1 i32)
    (local $k i32) (local $j i32) (local $jp i32) (local $ka i32) (local $ts i32) (local $o i32) (local $tp i32) (local $br i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $bv v128)
    (local $s0 f64) (local $s1 f64) (local $s2 f64) (local $s3 f64) (local $bs f64)
    (local.set $ka (i32.shl (local.get $K) (i32.const 2)))
    (local.set $ts (i32.shl (local.get $N) (i32.const 3)))
    (local.set $jp (i32.add (local.get $j0) (i32.and (i32.sub (local.get $j1) (local.get $j0)) (i32.const -2))))
    (block $kdone (loop $kl
      (br_if $kdone (i32.ge_u (local.get $k) (local.get $K)))
      (local.set $o (i32.add (local.get $a) (i32.shl (local.get $k) (i32.const 2))))
      (local.set $s0 (f64.promote_f32 (f32.load (local.get $o))))
      (local.set $s1 (f64.promote_f32 (f32.load (i32.add (local.get $o) (local.get $ka)))))
      (local.set $s2 (f64.promote_f32 (f32.load (i32.add (local.get $o) (i32.shl (local.get $ka) (i32.const 1))))))
      (local.set $s3 (f64.promote_f32 (f32.load (i32.add (local.get $o) (i32.mul (local.get $ka) (i32.const 3))))))
      (local.set $x0 (f64x2.splat (local.get $s0)))
      (local.set $x1 (f64x2.splat (local.get $s1)))
      (local.set $x2 (f64x2.splat (local.get $s2)))
      (local.set $x3 (f64x2.splat (local.get $s3)))
      (local.set $br (i32.add (local.get $b) (i32.mul (local.get $k) (i32.shl (local.get $N) (i32.const 2)))))
      (local.set $j (local.get $j0))
      (block $jdone (loop $jl
        (br_if $jdone (i32.ge_u (local.get $j) (local.get $jp)))
        (local.set $bv (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $br) (i32.shl (local.get $j) (i32.const 2))))))
        (local.set $tp (i32.add (local.get $t) (i32.shl (local.get $j) (i32.const 3))))
        (v128.store (local.get $tp) (f64x2.add (v128.load (local.get $tp)) (f64x2.mul (local.get $x0) (local.get $bv))))
        (local.set $tp (i32.add (local.get $tp) (local.get $ts)))
        (v128.store (local.get $tp) (f64x2.add (v128.load (local.get $tp)) (f64x2.mul (local.get $x1) (local.get $bv))))
        (local.set $tp (i32.add (local.get $tp) (local.get $ts)))
        (v128.store (local.get $tp) (f64x2.add (v128.load (local.get $tp)) (f64x2.mul (local.get $x2) (local.get $bv))))
        (local.set $tp (i32.add (local.get $tp) (local.get $ts)))
        (v128.store (local.get $tp) (f64x2.add (v128.load (local.get $tp)) (f64x2.mul (local.get $x3) (local.get $bv))))
        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (br $jl)))
      (if (i32.lt_u (local.get $jp) (local.get $j1)) (then
        (local.set $bs (f64.promote_f32 (f32.load (i32.add (local.get $br) (i32.shl (local.get $jp) (i32.const 2))))))
        (local.set $tp (i32.add (local.get $t) (i32.shl (local.get $jp) (i32.const 3))))
        (f64.store (local.get $tp) (f64.add (f64.load (local.get $tp)) (f64.mul (local.get $s0) (local.get $bs))))
        (local.set $tp (i32.add (local.get $tp) (local.get $ts)))
        (f64.store (local.get $tp) (f64.add (f64.load (local.get $tp)) (f64.mul (local.get $s1) (local.get $bs))))
        (local.set $tp (i32.add (local.get $tp) (local.get $ts)))
        (f64.store (local.get $tp) (f64.add (f64.load (local.get $tp)) (f64.mul (local.get $s2) (local.get $bs))))
        (local.set $tp (i32.add (local.get $tp) (local.get $ts)))
        (f64.store (local.get $tp) (f64.add (f64.load (local.get $tp)) (f64.mul (local.get $s3) (local.get $bs))))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $kl)))
  )

  ;; matvecF32 for rows [i0, i1): r[i - i0] = (s0 + s1) + (s2 + s3), s_m = Σ A[i][k]·x[k] over
  ;; k ≡ m (mod 4) in increasing k, the last K mod 4 terms added to s0; A {M,K} f32 row-major,
  ;; x: K f32, r: f64 (the caller adds it to out).
  (func $dot4 (export "dot4") (param $A i32) (param $x i32) (param $K i32) (param $i0 i32) (param $i1 i32) (param $r i32)
    (local $i i32) (local $k i32) (local $K4 i32) (local $row i32) (local $v01 v128) (local $v23 v128) (local $s0 f64) (local $o i32)
    (local.set $K4 (i32.and (local.get $K) (i32.const -4)))
    (local.set $i (local.get $i0))
    (block $idone (loop $il
      (br_if $idone (i32.ge_u (local.get $i) (local.get $i1)))
      (local.set $row (i32.add (local.get $A) (i32.mul (local.get $i) (i32.shl (local.get $K) (i32.const 2)))))
      (local.set $v01 (v128.const i64x2 0 0))
      (local.set $v23 (v128.const i64x2 0 0))
      (local.set $k (i32.const 0))
      (block $kdone (loop $kl
        (br_if $kdone (i32.ge_u (local.get $k) (local.get $K4)))
        (local.set $o (i32.shl (local.get $k) (i32.const 2)))
        (local.set $v01 (f64x2.add (local.get $v01) (f64x2.mul
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $row) (local.get $o))))
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $x) (local.get $o)))))))
        (local.set $v23 (f64x2.add (local.get $v23) (f64x2.mul
          (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (i32.add (local.get $row) (local.get $o))))
          (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (i32.add (local.get $x) (local.get $o)))))))
        (local.set $k (i32.add (local.get $k) (i32.const 4)))
        (br $kl)))
      (local.set $s0 (f64x2.extract_lane 0 (local.get $v01)))
      (block $tdone (loop $tl
        (br_if $tdone (i32.ge_u (local.get $k) (local.get $K)))
        (local.set $o (i32.shl (local.get $k) (i32.const 2)))
        (local.set $s0 (f64.add (local.get $s0) (f64.mul
          (f64.promote_f32 (f32.load (i32.add (local.get $row) (local.get $o))))
          (f64.promote_f32 (f32.load (i32.add (local.get $x) (local.get $o)))))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $tl)))
      (f64.store (i32.add (local.get $r) (i32.shl (i32.sub (local.get $i) (local.get $i0)) (i32.const 3)))
        (f64.add (f64.add (local.get $s0) (f64x2.extract_lane 1 (local.get $v01)))
                 (f64.add (f64x2.extract_lane 0 (local.get $v23)) (f64x2.extract_lane 1 (local.get $v23)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $il)))
  )
)
