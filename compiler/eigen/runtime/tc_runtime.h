// The C++ runtime every generated translation unit uses (the eigen back end, docs/compiler.md):
// inline scalar rules (f16/bf16 encoders, int32 wrapping, saturation, activations), the parallel
// loop, and the declarations of the product helpers that tc_runtime.cpp defines. Precompiled once
// per flag set and force-included (-include) into every kernel; tests/cpp/precision_test.cpp checks
// the encoders against numpy. Every rule mirrors runtime/precision.ts and interpreter/ops.ts exactly.
#ifndef TC_RUNTIME_H
#define TC_RUNTIME_H
#include <cstdint>
#include <cstring>
#include <cmath>
#include <limits>
#include <atomic>
#include <mutex>
#include <algorithm>
#include <type_traits>
#include <vector>
#include <immintrin.h>
#include <Eigen/Core>
#ifdef _OPENMP
#include <omp.h>
#endif

#define TC_EXPORT extern "C" __attribute__((visibility("default")))

namespace tcrt {
typedef void (*print_fn)(double);
struct Rt {
  const int32_t* intr;
  print_fn print;
};
struct Fault {
  int32_t id;
  int32_t v0;
  int32_t v1;
};

inline int fault(Fault* F, int32_t id, int32_t v0 = 0, int32_t v1 = 0) {
  if (!F->id) {
    F->id = id;
    F->v0 = v0;
    F->v1 = v1;
  }
  return 1;
}
inline int interrupt(Fault* F) {
  F->id = -1;
  return 2;
}
inline bool interrupted(const Rt* rt) { return rt->intr && __atomic_load_n(rt->intr, __ATOMIC_RELAXED) != 0; }

// ---- precisions (runtime/precision.ts) ----
inline uint32_t fbits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}
inline float bitsf(uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}
inline uint16_t f2b(float x) {
  const uint32_t bits = fbits(x);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(((bits >> 16) | 0x0040u) & 0xffffu);
  return (uint16_t)(((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16) & 0xffffu);
}
inline float b2f(uint16_t b) { return bitsf((uint32_t)b << 16); }
inline uint16_t f2h(float x) {
  const uint32_t bits = fbits(x);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const int32_t exp = (int32_t)((bits >> 23) & 0xffu);
  uint32_t mant = bits & 0x7fffffu;
  if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0u));
  const int32_t e = exp - 127 + 15;
  if (e >= 0x1f) return (uint16_t)(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return (uint16_t)sign;
    mant |= 0x800000u;
    const int shift = 14 - e;
    const uint32_t half = 1u << (shift - 1);
    const uint32_t rest = mant & ((1u << shift) - 1u);
    uint32_t h = mant >> shift;
    if (rest > half || (rest == half && (h & 1u))) h++;
    return (uint16_t)(sign | h);
  }
  uint32_t h = ((uint32_t)e << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
  return (uint16_t)(sign | h);
}
inline float h2f(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0) {
    const float v = (float)mant * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  if (exp == 0x1f) return mant ? std::numeric_limits<float>::quiet_NaN() : bitsf(sign | 0x7f800000u);
  return bitsf(sign | ((exp + 112u) << 23) | (mant << 13));
}
// float -> int: round half to even, saturate, NaN -> 0
inline int32_t f2i(float x) {
  if (x != x) return 0;
  const double r = std::nearbyint((double)x);
  return r >= 2147483647.0 ? 2147483647 : r <= -2147483648.0 ? (-2147483647 - 1) : (int32_t)r;
}
// (rounded and clamped in float, which is exact and the same as in double, and branch-free, so a
// loop of int8 stores vectorizes: quantizing 64 × 768 activations went from 32 to 11 µs)
inline int8_t f2i8(float x) {
  const float r = std::nearbyint(x);
  const float c = r >= 127.0f ? 127.0f : r <= -128.0f ? -128.0f : r;
  return x != x ? (int8_t)0 : (int8_t)(int32_t)c;
}
inline int8_t i2i8(int32_t x) { return x > 127 ? (int8_t)127 : x < -128 ? (int8_t)-128 : (int8_t)x; }

// ---- int32 arithmetic wraps (no signed-overflow UB) ----
inline int32_t iadd(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
inline int32_t isub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }
inline int32_t imul(int32_t a, int32_t b) { return (int32_t)((uint32_t)a * (uint32_t)b); }
inline int32_t ineg(int32_t a) { return (int32_t)(0u - (uint32_t)a); }
inline int32_t iabs(int32_t a) { return a < 0 ? ineg(a) : a; }
inline int32_t idiv(int32_t a, int32_t b, Fault* F, int32_t id) {
  if (b == 0) {
    fault(F, id);
    return 0;
  }
  return b == -1 ? ineg(a) : a / b;
}
inline int32_t imod(int32_t a, int32_t b, Fault* F, int32_t id) {
  if (b == 0) {
    fault(F, id);
    return 0;
  }
  return b == -1 ? 0 : a % b;
}
inline int32_t imax(int32_t a, int32_t b) { return a > b ? a : b; }
inline int32_t imin(int32_t a, int32_t b) { return a < b ? a : b; }

// ---- f32 elementwise (computed in double where the interpreter does, then rounded) ----
inline float fmaxn(float x, float y) {
  return (x != x || y != y) ? std::numeric_limits<float>::quiet_NaN() : (x > y ? x : y);
}
inline float fminn(float x, float y) {
  return (x != x || y != y) ? std::numeric_limits<float>::quiet_NaN() : (x < y ? x : y);
}
inline int64_t d2i(double d) {
  int64_t i;
  std::memcpy(&i, &d, 8);
  return i;
}
inline double i2d(int64_t i) {
  double d;
  std::memcpy(&d, &i, 8);
  return d;
}
/**
 * e^z in double within 1 ulp (Cody-Waite reduction, degree-13 Taylor on |r| <= ln2/2, 2^n applied
 * as two factors so subnormal results stay right). Branch-free, so the compiler vectorizes loops
 * over it: libm's exp is a call per element, 8x slower in GELU/softmax loops. Agrees with glibc's
 * exp to 1 ulp, hence with V8's Math.exp after rounding to f32 except in ~1e-8 of cases.
 */
inline double exp_d(double z) {
  const double zc = z < -746.0 ? -746.0 : (z > 710.0 ? 710.0 : z);
  const double shift = 6755399441055744.0; // 1.5 * 2^52: adding it rounds to an integer
  const double t = zc * 1.4426950408889634 + shift;
  const double n = t - shift;
  const int64_t ni = d2i(t) - d2i(shift);
  const double r = (zc - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
  double p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  const int64_t n1 = ni >> 1, n2 = ni - n1;
  double res = p * i2d((n1 + 1023) << 52) * i2d((n2 + 1023) << 52);
  res = z > 709.782712893384 ? HUGE_VAL : res;
  res = z < -745.2 ? 0.0 : res;
  return z != z ? z : res;
}
inline float fexp(float x) { return (float)exp_d((double)x); }
inline float flog(float x) { return (float)std::log((double)x); }
inline float fsqrt(float x) { return (float)std::sqrt((double)x); }
inline float ftanh(float x) { return (float)std::tanh((double)x); }
inline double erf_nr(double x) {
  const double z = std::fabs(x);
  const double t = 1 / (1 + 0.5 * z);
  // Numerical Recipes' erfc polynomial in Horner form, innermost coefficient first
  double q = 0.17087277;
  q = -0.82215223 + t * q;
  q = 1.48851587 + t * q;
  q = -1.13520398 + t * q;
  q = 0.27886807 + t * q;
  q = -0.18628806 + t * q;
  q = 0.09678418 + t * q;
  q = 0.37409196 + t * q;
  q = 1.00002368 + t * q;
  const double r = t * exp_d(-z * z - 1.26551223 + t * q);
  return x >= 0 ? 1 - r : r - 1;
}
// GELU (tanh form): 0.5·x·(1 + tanh(y)) = x / (1 + e^(−2y)), y = √(2/π)·(x + 0.044715·x³); the
// second form has no cancellation for negative x and vectorizes (interpreter/ops.ts, the definition)
inline float act_gelu_tanh(float xf) {
  const double x = xf, k = (double)(float)0.79788456080286541; // fround(sqrt(2/pi))
  return (float)(x / (1 + exp_d(-2 * (k * (x + 0.044715 * x * x * x)))));
}
inline float act_gelu_erf(float xf) {
  const double x = xf;
  return (float)(0.5 * x * (1 + erf_nr(x * 0.70710678118654757)));
}
inline float act_silu(float xf) {
  const double x = xf;
  return (float)(x / (1 + exp_d(-x)));
}
inline float act_relu(float x) { return x > 0 ? x : 0.0f; }

// ---- threads: a persistent pool (tc_runtime.cpp) ----
// Products and parallel batch loops split their work into chunks that the caller and the pool's
// workers claim one at a time. A worker spins for a while after a job (decode runs ~50 products a
// token, microseconds apart), then sleeps. The caller only waits for chunks that someone claimed: on
// a shared machine a worker that the scheduler has not run yet is simply not waited for (an OpenMP
// fork and join waited for it at every product: 2-thread decode ran 2.7x slower than 1-thread under
// load).
/** body(ctx, chunk, slot) for chunk = 0..n-1 on up to `width` threads; slot < width names the thread (0: the caller). */
void pool_for(int64_t n, int width, void (*body)(void*, int64_t, int), void* ctx);
/** Whether this thread is running a pool chunk (nested parallel work then runs inline). */
bool in_pool();
/** The threads a product may use (set_threads; default: every core). */
int pool_width();
template <class Fn>
void run_chunks(int64_t n, int width, Fn&& fn) {
  if (width <= 1 || n <= 1 || in_pool()) {
    for (int64_t k = 0; k < n; ++k) fn(k, 0);
    return;
  }
  pool_for(n, width, [](void* c, int64_t k, int slot) { (*(std::remove_reference_t<Fn>*)c)(k, slot); }, (void*)&fn);
}
inline bool can_parallel() { return !in_pool() && pool_width() > 1; }
inline bool disjoint(const void* a, int64_t abytes, const void* b, int64_t bbytes) {
  const char* x = (const char*)a;
  const char* y = (const char*)b;
  return x + abytes <= y || y + bbytes <= x;
}
/** Iterations 0..n-1 across threads; the fault of the lowest failing iteration wins (as sequentially). */
template <class Fn>
int par_for(int64_t n, Fn&& fn, const Rt* rt, Fault* F) {
  std::atomic<int64_t> stop{INT64_MAX}; // the lowest failing iteration so far: later ones are skipped
  std::mutex m;                         // guards best/brc (taken only when an iteration fails)
  Fault best{};
  int brc = 0;
  run_chunks(n, pool_width(), [&](int64_t k, int) {
    if (k > stop.load(std::memory_order_relaxed)) return;
    Fault f{};
    const int rc = interrupted(rt) ? interrupt(&f) : fn(k, &f);
    if (!rc) return;
    std::lock_guard<std::mutex> lk(m);
    if (k < stop.load()) {
      stop.store(k);
      best = f;
      brc = rc;
    }
  });
  if (brc) *F = best;
  return brc;
}

// ---- products ----
// kind 0: {M,K}.{K,N}; 1: {M,K}.{K} (N = 1); 2: {K}.{K,N} (M = 1). Element (i,k) of A is A[i*as0 + k*as1].
// Fast f32 path (Eigen, f32 accumulation): each matrix operand has a unit stride on one axis, a vector
// operand a unit stride. P is M*N row-major.
void mm_f32(int kind, int M, int K, int N, const float* A, int64_t as0, int64_t as1, const float* B,
            int64_t bs0, int64_t bs1, float* P);
void set_threads(int n);
int get_threads();
// Hand-written SIMD products (AVX-512 or AVX2+FMA, chosen at build time from the flags; plain loops or
// Eigen otherwise). bp/ap: precision of the weight operand, 0 f32, 1 bf16, 2 f16 (widened in registers).
// P{M,N} = A·B, A f32 with element (i,k) at A[i*as0 + k*as1], B {K,N} with unit column stride, row stride
// ldb. kc × nb: the tile of a Tiled(kc x nb) weight, the k-block and panel width of the packed many-row
// product (0, 0: the default 128 × 48); the result does not depend on it beyond float rounding.
void mm_rowB(int M, int K, int N, const float* A, int64_t as0, int64_t as1, const void* B, int bp,
             int64_t ldb, float* P, int kc, int nb);
// P{M} = A·x, A {M,K} with unit column stride (row stride lda), x f32 contiguous.
void mv_rowA(int M, int K, const void* A, int ap, int64_t lda, const float* x, float* P);
// P{M,N} = A·B in int32 (wrapping), A int8 any strides, B int8 {K,N} with unit column stride.
void mm_i8(int M, int K, int N, const int8_t* A, int64_t as0, int64_t as1, const int8_t* B, int64_t ldb,
           int32_t* P);
// P{M} = A·x in int32 (wrapping), A int8 {M,K} with unit column stride (row stride lda), x int8 with stride
// xs (the int8 LM head: wte_int8 · quantized hidden state).
void mv_i8(int M, int K, const int8_t* A, int64_t lda, const int8_t* x, int64_t xs, int32_t* P);
/** Which product paths this build has: "avx512", "avx2" or "portable" (tests and the bench print it). */
const char* simd_path();
/** Which int8 product path this build and host run for many rows: "amx", "avx512-vnni", "avx512", "avx2-vnni", "avx2" or "portable". */
const char* int8_path();
/** Which path many-row f32 × f32/bf16/f16 products run on this host: "amx-bf16", or simd_path(). */
const char* float_path();

/** The interpreter's order: per output, an f64 sum over k in order (bitwise the reference). */
template <class TA, class TB>
inline void mm_exact(int M, int K, int N, const TA* A, int64_t as0, int64_t as1, const TB* B, int64_t bs0,
                     int64_t bs1, double* P) {
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double s = 0;
      for (int k = 0; k < K; ++k) s += (double)A[i * as0 + k * as1] * (double)B[k * bs0 + j * bs1];
      P[(int64_t)i * N + j] = s;
    }
}
/** Integer products wrap in int32, as the interpreter's Math.imul sums. */
template <class TA, class TB>
inline void mm_int(int M, int K, int N, const TA* A, int64_t as0, int64_t as1, const TB* B, int64_t bs0,
                   int64_t bs1, int32_t* P) {
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      uint32_t s = 0;
      for (int k = 0; k < K; ++k)
        s += (uint32_t)(int32_t)A[i * as0 + k * as1] * (uint32_t)(int32_t)B[k * bs0 + j * bs1];
      P[(int64_t)i * N + j] = (int32_t)s;
    }
}
} // namespace tcrt

#endif // TC_RUNTIME_H
