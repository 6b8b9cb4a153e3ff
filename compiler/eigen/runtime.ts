// The C++ runtime every generated translation unit uses, as text (so that it ships inside dist/).
//   RUNTIME_HEADER  inline scalar rules (f16/bf16 encoders, int32 wrapping, saturation, activations)
//                   and the declarations of the product helpers; precompiled once per flag set.
//   RUNTIME_IMPL    the product helpers over Eigen 3.4 (GEMM/GEMV, split across OpenMP threads);
//                   compiled once per flag set into a cached object that every kernel .so links,
//                   so a kernel's own translation unit never instantiates Eigen's GEMM templates.
// Every rule here mirrors interpreter/precision.ts and interpreter/ops.ts exactly.

export const RUNTIME_HEADER = String.raw`
#pragma once
#include <cstdint>
#include <cstring>
#include <cmath>
#include <limits>
#include <atomic>
#include <Eigen/Core>
#ifdef _OPENMP
#include <omp.h>
#endif

#define TC_EXPORT extern "C" __attribute__((visibility("default")))

namespace tcrt {
typedef void (*print_fn)(double);
struct Rt { const int32_t* intr; print_fn print; };
struct Fault { int32_t id; int32_t v0; int32_t v1; };

inline int fault(Fault* F, int32_t id, int32_t v0 = 0, int32_t v1 = 0) {
  if (!F->id) { F->id = id; F->v0 = v0; F->v1 = v1; }
  return 1;
}
inline int interrupt(Fault* F) { F->id = -1; return 2; }
inline bool interrupted(const Rt* rt) { return rt->intr && __atomic_load_n(rt->intr, __ATOMIC_RELAXED) != 0; }

// ---- precisions (interpreter/precision.ts) ----
inline uint32_t fbits(float x) { uint32_t u; std::memcpy(&u, &x, 4); return u; }
inline float bitsf(uint32_t u) { float x; std::memcpy(&x, &u, 4); return x; }
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
  if (exp == 0) { const float v = (float)mant * 5.9604644775390625e-8f; return sign ? -v : v; }
  if (exp == 0x1f) return mant ? std::numeric_limits<float>::quiet_NaN() : bitsf(sign | 0x7f800000u);
  return bitsf(sign | ((exp + 112u) << 23) | (mant << 13));
}
// float -> int: round half to even, saturate, NaN -> 0
inline int32_t f2i(float x) {
  if (x != x) return 0;
  const double r = std::nearbyint((double)x);
  return r >= 2147483647.0 ? 2147483647 : r <= -2147483648.0 ? (-2147483647 - 1) : (int32_t)r;
}
inline int8_t f2i8(float x) {
  if (x != x) return 0;
  const double r = std::nearbyint((double)x);
  return r >= 127.0 ? (int8_t)127 : r <= -128.0 ? (int8_t)-128 : (int8_t)r;
}
inline int8_t i2i8(int32_t x) { return x > 127 ? (int8_t)127 : x < -128 ? (int8_t)-128 : (int8_t)x; }

// ---- int32 arithmetic wraps (no signed-overflow UB) ----
inline int32_t iadd(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
inline int32_t isub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }
inline int32_t imul(int32_t a, int32_t b) { return (int32_t)((uint32_t)a * (uint32_t)b); }
inline int32_t ineg(int32_t a) { return (int32_t)(0u - (uint32_t)a); }
inline int32_t iabs(int32_t a) { return a < 0 ? ineg(a) : a; }
inline int32_t idiv(int32_t a, int32_t b, Fault* F, int32_t id) {
  if (b == 0) { fault(F, id); return 0; }
  return b == -1 ? ineg(a) : a / b;
}
inline int32_t imod(int32_t a, int32_t b, Fault* F, int32_t id) {
  if (b == 0) { fault(F, id); return 0; }
  return b == -1 ? 0 : a % b;
}
inline int32_t imax(int32_t a, int32_t b) { return a > b ? a : b; }
inline int32_t imin(int32_t a, int32_t b) { return a < b ? a : b; }

// ---- f32 elementwise (computed in double where the interpreter does, then rounded) ----
inline float fmaxn(float x, float y) { return (x != x || y != y) ? std::numeric_limits<float>::quiet_NaN() : (x > y ? x : y); }
inline float fminn(float x, float y) { return (x != x || y != y) ? std::numeric_limits<float>::quiet_NaN() : (x < y ? x : y); }
inline float fexp(float x) { return (float)std::exp((double)x); }
inline float flog(float x) { return (float)std::log((double)x); }
inline float fsqrt(float x) { return (float)std::sqrt((double)x); }
inline float ftanh(float x) { return (float)std::tanh((double)x); }
inline double erf_nr(double x) {
  const double z = std::fabs(x);
  const double t = 1 / (1 + 0.5 * z);
  const double r = t * std::exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - r : r - 1;
}
inline float act_gelu_tanh(float xf) {
  const double x = xf, k = (double)(float)0.79788456080286541; // fround(sqrt(2/pi))
  return (float)(0.5 * x * (1 + std::tanh(k * (x + 0.044715 * x * x * x))));
}
inline float act_gelu_erf(float xf) { const double x = xf; return (float)(0.5 * x * (1 + erf_nr(x * 0.70710678118654757))); }
inline float act_silu(float xf) { const double x = xf; return (float)(x / (1 + std::exp(-x))); }
inline float act_relu(float x) { return x > 0 ? x : 0.0f; }

// ---- threads ----
inline bool can_parallel() {
#ifdef _OPENMP
  return !omp_in_parallel() && omp_get_max_threads() > 1;
#else
  return false;
#endif
}
inline bool disjoint(const void* a, int64_t abytes, const void* b, int64_t bbytes) {
  const char* x = (const char*)a; const char* y = (const char*)b;
  return x + abytes <= y || y + bbytes <= x;
}
/** Iterations 0..n-1 across threads; the fault of the lowest failing iteration wins (as sequentially). */
template <class Fn> int par_for(int64_t n, Fn&& fn, const Rt* rt, Fault* F) {
  int64_t bad = INT64_MAX; Fault best{}; int brc = 0;
  std::atomic<int64_t> stop{INT64_MAX};
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (int64_t k = 0; k < n; ++k) {
    if (k > stop.load(std::memory_order_relaxed)) continue;
    Fault f{};
    const int rc = interrupted(rt) ? interrupt(&f) : fn(k, &f);
    if (rc) {
#ifdef _OPENMP
#pragma omp critical(tc_fault)
#endif
      { if (k < bad) { bad = k; best = f; brc = rc; } }
      int64_t cur = stop.load();
      while (k < cur && !stop.compare_exchange_weak(cur, k)) {}
    }
  }
  if (brc) { *F = best; return brc; }
  return 0;
}

// ---- products ----
// kind 0: {M,K}.{K,N}; 1: {M,K}.{K} (N = 1); 2: {K}.{K,N} (M = 1). Element (i,k) of A is A[i*as0 + k*as1].
// Fast f32 path (Eigen, f32 accumulation): each matrix operand has a unit stride on one axis, a vector
// operand a unit stride. P is M*N row-major.
void mm_f32(int kind, int M, int K, int N, const float* A, int64_t as0, int64_t as1, const float* B, int64_t bs0, int64_t bs1, float* P);
void set_threads(int n);
int get_threads();

/** The interpreter's order: per output, an f64 sum over k in order (bitwise the reference). */
template <class TA, class TB> inline void mm_exact(int M, int K, int N, const TA* A, int64_t as0, int64_t as1, const TB* B, int64_t bs0, int64_t bs1, double* P) {
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double s = 0;
      for (int k = 0; k < K; ++k) s += (double)A[i * as0 + k * as1] * (double)B[k * bs0 + j * bs1];
      P[(int64_t)i * N + j] = s;
    }
}
/** Integer products wrap in int32, as the interpreter's Math.imul sums. */
template <class TA, class TB> inline void mm_int(int M, int K, int N, const TA* A, int64_t as0, int64_t as1, const TB* B, int64_t bs0, int64_t bs1, int32_t* P) {
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      uint32_t s = 0;
      for (int k = 0; k < K; ++k) s += (uint32_t)(int32_t)A[i * as0 + k * as1] * (uint32_t)(int32_t)B[k * bs0 + j * bs1];
      P[(int64_t)i * N + j] = (int32_t)s;
    }
}
} // namespace tcrt
`;

export const RUNTIME_IMPL = String.raw`
namespace tcrt {
using RowM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ColM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
template <class MT> using CMap = Eigen::Map<const MT, Eigen::Unaligned, Eigen::OuterStride<>>;
using OutMat = Eigen::Map<RowM, Eigen::Unaligned, Eigen::OuterStride<>>;
using VecMap = Eigen::Map<const Eigen::VectorXf>;
using RowVecMap = Eigen::Map<const Eigen::RowVectorXf>;

static int threads_for(double work) {
#ifdef _OPENMP
  if (omp_in_parallel() || work < 65536.0) return 1;
  return omp_get_max_threads();
#else
  (void)work; return 1;
#endif
}

template <class MA> static void gemv(int M, int K, const float* A, int64_t lda, const float* x, float* P) {
  CMap<MA> a(A, M, K, Eigen::OuterStride<>(lda));
  VecMap v(x, K);
  const int nt = threads_for((double)M * K);
  if (nt > 1 && M >= 2 * nt) {
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
#ifdef _OPENMP
      const int t = omp_get_thread_num(), T = omp_get_num_threads();
#else
      const int t = 0, T = 1;
#endif
      const int r0 = (int)((int64_t)M * t / T), r1 = (int)((int64_t)M * (t + 1) / T);
      if (r1 > r0) { Eigen::Map<Eigen::VectorXf> p(P + r0, r1 - r0); p.noalias() = a.middleRows(r0, r1 - r0) * v; }
    }
  } else {
    Eigen::Map<Eigen::VectorXf> p(P, M);
    p.noalias() = a * v;
  }
}

template <class MB> static void gevm(int K, int N, const float* x, const float* B, int64_t ldb, float* P) {
  CMap<MB> b(B, K, N, Eigen::OuterStride<>(ldb));
  RowVecMap v(x, K);
  const int nt = threads_for((double)K * N);
  if (nt > 1 && N >= 32 * nt) {
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
#ifdef _OPENMP
      const int t = omp_get_thread_num(), T = omp_get_num_threads();
#else
      const int t = 0, T = 1;
#endif
      // column chunks on 16-float (cache line) boundaries
      const int64_t blocks = (N + 15) / 16;
      const int c0 = (int)std::min<int64_t>(N, blocks * t / T * 16), c1 = (int)std::min<int64_t>(N, blocks * (t + 1) / T * 16);
      if (c1 > c0) { Eigen::Map<Eigen::RowVectorXf> p(P + c0, c1 - c0); p.noalias() = v * b.middleCols(c0, c1 - c0); }
    }
  } else {
    Eigen::Map<Eigen::RowVectorXf> p(P, N);
    p.noalias() = v * b;
  }
}

template <class MA, class MB> static void gemm(int M, int K, int N, const float* A, int64_t lda, const float* B, int64_t ldb, float* P) {
  CMap<MA> a(A, M, K, Eigen::OuterStride<>(lda));
  CMap<MB> b(B, K, N, Eigen::OuterStride<>(ldb));
  OutMat p(P, M, N, Eigen::OuterStride<>(N));
  p.noalias() = a * b; // Eigen's GEMM; OpenMP-parallel inside when large and not already in a parallel region
}

void mm_f32(int kind, int M, int K, int N, const float* A, int64_t as0, int64_t as1, const float* B, int64_t bs0, int64_t bs1, float* P) {
  const bool aRow = as1 == 1 || K == 1, bRow = bs1 == 1 || N == 1;
  // a one-row or one-column product is a GEMV: use the thread-split paths
  if (kind == 0 && M == 1 && aRow) kind = 2;
  else if (kind == 0 && N == 1 && (bs0 == 1 || K == 1)) kind = 1;
  if (kind == 1) {
    if (aRow) gemv<RowM>(M, K, A, M == 1 ? K : as0, B, P); else gemv<ColM>(M, K, A, K == 1 ? M : as1, B, P);
  } else if (kind == 2) {
    if (bRow) gevm<RowM>(K, N, A, B, K == 1 ? N : bs0, P); else gevm<ColM>(K, N, A, B, N == 1 ? K : bs1, P);
  } else {
    const int64_t lda = aRow ? (M == 1 ? K : as0) : (K == 1 ? M : as1), ldb = bRow ? (K == 1 ? N : bs0) : (N == 1 ? K : bs1);
    if (aRow && bRow) gemm<RowM, RowM>(M, K, N, A, lda, B, ldb, P);
    else if (aRow) gemm<RowM, ColM>(M, K, N, A, lda, B, ldb, P);
    else if (bRow) gemm<ColM, RowM>(M, K, N, A, lda, B, ldb, P);
    else gemm<ColM, ColM>(M, K, N, A, lda, B, ldb, P);
  }
}

void set_threads(int n) {
#ifdef _OPENMP
  if (n > 0) omp_set_num_threads(n);
#endif
  Eigen::setNbThreads(n > 0 ? n : 0);
}
int get_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}
} // namespace tcrt
TC_EXPORT void tc_set_threads(int n) { tcrt::set_threads(n); }
TC_EXPORT int tc_get_threads() { return tcrt::get_threads(); }
`;
