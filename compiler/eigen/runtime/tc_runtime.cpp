// The product helpers over Eigen 3.4 (GEMM/GEMV, split across OpenMP threads) and the hand-written
// SIMD products. Compiled once per flag set into a cached object that every kernel .so links, so a
// kernel's own translation unit never instantiates Eigen's GEMM templates (compiler/eigen/build.ts).
#include "tc_runtime.h"
#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <mutex>
#include <thread>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace tcrt {
using RowM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ColM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
template <class MT>
using CMap = Eigen::Map<const MT, Eigen::Unaligned, Eigen::OuterStride<>>;
using OutMat = Eigen::Map<RowM, Eigen::Unaligned, Eigen::OuterStride<>>;
using VecMap = Eigen::Map<const Eigen::VectorXf>;
using RowVecMap = Eigen::Map<const Eigen::RowVectorXf>;

// ---- the pool (tc_runtime.h "threads") ----
// One job at a time. Its ticket packs (generation:24 | chunk count:20 | next chunk:20); fn and ctx are
// stored before the ticket that publishes them. A thread claims chunk i by compare-and-swap of the
// exact ticket it read (after reading fn and ctx), so the swap succeeds only while that job is still
// unfinished, and a job's fields are replaced only once it is finished: a late worker holding an old
// ticket can never run a chunk of a newer job with the wrong function. `done` counts finished chunks;
// the caller returns once every chunk is done. Workers have fixed slots 1..; the caller is slot 0.
// Each kernel library carries its own pool (the runtime object is linked into every .so); its
// destructor joins the workers, so unloading a library never leaves a thread in unmapped code.
namespace {
thread_local bool tls_in_pool = false;
constexpr int POOL_BITS = 20;
constexpr uint64_t POOL_MASK = (1u << POOL_BITS) - 1;
struct Pool {
  std::vector<std::thread> workers;
  std::atomic<uint64_t> ticket{0};
  std::atomic<int64_t> done{0};
  std::atomic<void (*)(void*, int64_t, int)> fn{nullptr};
  std::atomic<void*> ctx{nullptr};
  std::atomic<int> width{0};
  std::atomic<int> sleepers{0};
  std::atomic<bool> stop{false};
  std::mutex sleep_m, job_m;
  std::condition_variable wake;
  std::atomic<int> threads{0}; // the width products use (set_threads); 0: every core

  ~Pool() {
    stop.store(true);
    { std::lock_guard<std::mutex> lk(sleep_m); }
    wake.notify_all();
    for (auto& t : workers) t.join();
  }
  static uint32_t gen_of(uint64_t t) { return (uint32_t)(t >> (2 * POOL_BITS)); }
  static int64_t count_of(uint64_t t) { return (int64_t)((t >> POOL_BITS) & POOL_MASK); }
  static int64_t next_of(uint64_t t) { return (int64_t)(t & POOL_MASK); }

  /** Claims and runs chunks of generation g until none is left. */
  void work(uint32_t g, int slot) {
    uint64_t t = ticket.load(std::memory_order_acquire);
    while (gen_of(t) == g && next_of(t) < count_of(t)) {
      auto* const f = fn.load(std::memory_order_relaxed);
      void* const c = ctx.load(std::memory_order_relaxed);
      if (!ticket.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel)) continue;
      f(c, next_of(t), slot);
      done.fetch_add(1, std::memory_order_release);
      t = ticket.load(std::memory_order_acquire);
    }
  }

  void worker(int slot) {
    tls_in_pool = true;
#ifdef _OPENMP
    omp_set_num_threads(1); // Eigen inside a chunk stays on this thread
#endif
    uint32_t seen = 0;
    for (;;) {
      // spin ~1 ms for the next job (yielding now and then, so a busy machine's other work runs), then sleep
      uint64_t t = ticket.load(std::memory_order_acquire);
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; gen_of(t) == seen && !stop.load(std::memory_order_relaxed); ++i) {
        _mm_pause();
        if ((i & 255) == 255) {
          if (std::chrono::steady_clock::now() - t0 > std::chrono::milliseconds(1)) {
            std::unique_lock<std::mutex> lk(sleep_m);
            sleepers.fetch_add(1);
            wake.wait(lk, [&] { return gen_of(ticket.load()) != seen || stop.load(); });
            sleepers.fetch_sub(1);
          } else
            std::this_thread::yield();
        }
        t = ticket.load(std::memory_order_acquire);
      }
      if (stop.load()) return;
      seen = gen_of(t);
      if (slot < width.load(std::memory_order_relaxed)) work(seen, slot);
    }
  }

  void run(int64_t total, int w, void (*f)(void*, int64_t, int), void* c) {
    std::unique_lock<std::mutex> busy(job_m, std::try_to_lock);
    if (!busy.owns_lock() || total > (int64_t)POOL_MASK) { // another thread's job is running: run inline
      tls_in_pool = true;
      for (int64_t k = 0; k < total; ++k) f(c, k, 0);
      tls_in_pool = false;
      return;
    }
    while ((int)workers.size() < w - 1) workers.emplace_back([this, s = (int)workers.size() + 1] { worker(s); });
    fn.store(f, std::memory_order_relaxed);
    ctx.store(c, std::memory_order_relaxed);
    width.store(w, std::memory_order_relaxed);
    done.store(0, std::memory_order_relaxed);
    const uint32_t g = (gen_of(ticket.load()) + 1) & ((1u << 24) - 1);
    ticket.store(((uint64_t)g << (2 * POOL_BITS)) | ((uint64_t)total << POOL_BITS)); // publishes (seq_cst)
    if (sleepers.load() > 0) {
      { std::lock_guard<std::mutex> lk(sleep_m); }
      wake.notify_all();
    }
    tls_in_pool = true;
    work(g, 0);
    tls_in_pool = false;
    while (done.load(std::memory_order_acquire) < total) _mm_pause(); // chunks that workers claimed
  }
};
Pool& pool() {
  static Pool p;
  return p;
}
} // namespace

void pool_for(int64_t n, int width, void (*body)(void*, int64_t, int), void* ctx) {
  pool().run(n, std::min(width, pool_width()), body, ctx);
}
bool in_pool() { return tls_in_pool; }
int pool_width() {
  const int n = pool().threads.load(std::memory_order_relaxed);
  if (n > 0) return n;
  // asked once: hardware_concurrency() reads /sys on every call (a syscall per product otherwise)
  static const int cores = std::max(1, (int)std::thread::hardware_concurrency());
  return cores;
}

static int threads_for(double work) { return in_pool() || work < 65536.0 ? 1 : pool_width(); }

/** Runs fn(t, T) for t = 0 .. T-1 as chunks of the pool (T = nt). */
template <class Fn>
static void on_threads(int nt, Fn&& fn) {
  run_chunks(nt, nt, [&](int64_t t, int) { fn((int)t, nt); });
}

template <class MA>
static void gemv(int M, int K, const float* A, int64_t lda, const float* x, float* P) {
  CMap<MA> a(A, M, K, Eigen::OuterStride<>(lda));
  VecMap v(x, K);
  const int nt = threads_for((double)M * K);
  if (nt > 1 && M >= 2 * nt) {
    on_threads(nt, [&](int t, int T) {
      const int r0 = (int)((int64_t)M * t / T), r1 = (int)((int64_t)M * (t + 1) / T);
      if (r1 > r0) {
        Eigen::Map<Eigen::VectorXf> p(P + r0, r1 - r0);
        p.noalias() = a.middleRows(r0, r1 - r0) * v;
      }
    });
  } else {
    Eigen::Map<Eigen::VectorXf> p(P, M);
    p.noalias() = a * v;
  }
}

template <class MB>
static void gevm(int K, int N, const float* x, const float* B, int64_t ldb, float* P) {
  CMap<MB> b(B, K, N, Eigen::OuterStride<>(ldb));
  RowVecMap v(x, K);
  const int nt = threads_for((double)K * N);
  if (nt > 1 && N >= 32 * nt) {
    on_threads(nt, [&](int t, int T) {
      // column chunks on 16-float (cache line) boundaries
      const int64_t blocks = (N + 15) / 16;
      const int c0 = (int)std::min<int64_t>(N, blocks * t / T * 16),
                c1 = (int)std::min<int64_t>(N, blocks * (t + 1) / T * 16);
      if (c1 > c0) {
        Eigen::Map<Eigen::RowVectorXf> p(P + c0, c1 - c0);
        p.noalias() = v * b.middleCols(c0, c1 - c0);
      }
    });
  } else {
    Eigen::Map<Eigen::RowVectorXf> p(P, N);
    p.noalias() = v * b;
  }
}

template <class MA, class MB>
static void gemm(int M, int K, int N, const float* A, int64_t lda, const float* B, int64_t ldb, float* P) {
  CMap<MA> a(A, M, K, Eigen::OuterStride<>(lda));
  CMap<MB> b(B, K, N, Eigen::OuterStride<>(ldb));
  OutMat p(P, M, N, Eigen::OuterStride<>(N));
  p.noalias() = a * b; // Eigen's GEMM; OpenMP-parallel inside when large and not already in a parallel region
}

void mm_f32(int kind, int M, int K, int N, const float* A, int64_t as0, int64_t as1, const float* B,
            int64_t bs0, int64_t bs1, float* P) {
  const bool aRow = as1 == 1 || K == 1, bRow = bs1 == 1 || N == 1;
  // a one-row or one-column product is a GEMV: use the thread-split paths
  if (kind == 0 && M == 1 && aRow)
    kind = 2;
  else if (kind == 0 && N == 1 && (bs0 == 1 || K == 1))
    kind = 1;
  if (kind == 1) {
    if (aRow)
      gemv<RowM>(M, K, A, M == 1 ? K : as0, B, P);
    else
      gemv<ColM>(M, K, A, K == 1 ? M : as1, B, P);
  } else if (kind == 2) {
    if (bRow)
      gevm<RowM>(K, N, A, B, K == 1 ? N : bs0, P);
    else
      gevm<ColM>(K, N, A, B, N == 1 ? K : bs1, P);
  } else {
    const int64_t lda = aRow ? (M == 1 ? K : as0) : (K == 1 ? M : as1),
                  ldb = bRow ? (K == 1 ? N : bs0) : (N == 1 ? K : bs1);
    if (aRow && bRow)
      gemm<RowM, RowM>(M, K, N, A, lda, B, ldb, P);
    else if (aRow)
      gemm<RowM, ColM>(M, K, N, A, lda, B, ldb, P);
    else if (bRow)
      gemm<ColM, RowM>(M, K, N, A, lda, B, ldb, P);
    else
      gemm<ColM, ColM>(M, K, N, A, lda, B, ldb, P);
  }
}

// ---- fast products (hand-written SIMD; chosen at build time from the target flags) ----
// P = A·B with B's columns contiguous (row-major weights {K,N}, any row stride): one row (decode)
// streams B's rows into per-thread accumulators; many rows (prefill, AVX-512) pack A and B into
// 8 × 48 register tiles (gemm_packed; 16-bit B widened to f32 while packing); otherwise register
// tiles read B in place (16-bit B widened in registers).
// A·x with A's rows contiguous (the LM head {V,D}·{D}): dot products of four rows at a time, one
// from each quarter of a 256-row block (four long sequential streams).
// All split their work across OpenMP threads when not already in a parallel region.
#if defined(__AVX512F__)
#define TC_VW 16
typedef __m512 tc_vf;
static inline tc_vf vzero() { return _mm512_setzero_ps(); }
static inline tc_vf vset1(float x) { return _mm512_set1_ps(x); }
static inline tc_vf vfma(tc_vf a, tc_vf b, tc_vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline tc_vf vldu(const float* p) { return _mm512_loadu_ps(p); }
static inline void vstu(float* p, tc_vf v) { _mm512_storeu_ps(p, v); }
static inline float vsum(tc_vf v) { return _mm512_reduce_add_ps(v); }
template <int BP>
static inline tc_vf vldB(const void* B, int64_t i) {
  if (BP == 0) return _mm512_loadu_ps((const float*)B + i);
  const __m256i h = _mm256_loadu_si256((const __m256i*)((const uint16_t*)B + i));
  if (BP == 1) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  return _mm512_cvtph_ps(h);
}
// which lanes of a vector are real when `left` columns remain (tails of packed panels)
typedef __mmask16 tc_mask;
static inline tc_mask vmask(int left) {
  return left >= 16 ? (__mmask16)0xffff : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
}
static inline tc_vf vldm(const float* p, tc_mask m) { return _mm512_maskz_loadu_ps(m, p); }
static inline void vstm(float* p, tc_mask m, tc_vf v) { _mm512_mask_storeu_ps(p, m, v); }
static inline tc_vf vlda(const float* p) { return _mm512_load_ps(p); }
static inline void vsta(float* p, tc_vf v) { _mm512_store_ps(p, v); }
typedef __m512i tc_vi16; // 2·VW 16-bit values
static inline tc_vi16 vi16_ldu(const uint16_t* p) { return _mm512_loadu_si512((const void*)p); }
static inline tc_vf bf16_even(tc_vi16 v) { return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)); }
static inline tc_vf bf16_odd(tc_vi16 v) {
  return _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32((int)0xffff0000u)));
}
#define TC_FAST_F32 1
#elif defined(__AVX2__) && defined(__FMA__)
#define TC_VW 8
typedef __m256 tc_vf;
static inline tc_vf vzero() { return _mm256_setzero_ps(); }
static inline tc_vf vset1(float x) { return _mm256_set1_ps(x); }
static inline tc_vf vfma(tc_vf a, tc_vf b, tc_vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline tc_vf vldu(const float* p) { return _mm256_loadu_ps(p); }
static inline void vstu(float* p, tc_vf v) { _mm256_storeu_ps(p, v); }
static inline float vsum(tc_vf v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
template <int BP>
static inline tc_vf vldB(const void* B, int64_t i) {
  if (BP == 0) return _mm256_loadu_ps((const float*)B + i);
  const uint16_t* q = (const uint16_t*)B + i;
  if (BP == 1)
    return _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)q)), 16));
#if defined(__F16C__)
  return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)q));
#else
  alignas(32) float t[8];
  for (int j = 0; j < 8; ++j) t[j] = h2f(q[j]);
  return _mm256_load_ps(t);
#endif
}
typedef __m256i tc_mask; // AVX2 masks are vectors: lane j is real when all ones
static inline tc_mask vmask(int left) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
// (vmaskmov does not fault on masked-off lanes, so a tail past the end of a buffer is safe)
static inline tc_vf vldm(const float* p, tc_mask m) { return _mm256_maskload_ps(p, m); }
static inline void vstm(float* p, tc_mask m, tc_vf v) { _mm256_maskstore_ps(p, m, v); }
static inline tc_vf vlda(const float* p) { return _mm256_load_ps(p); }
static inline void vsta(float* p, tc_vf v) { _mm256_store_ps(p, v); }
typedef __m256i tc_vi16; // 2·VW 16-bit values
static inline tc_vi16 vi16_ldu(const uint16_t* p) { return _mm256_loadu_si256((const __m256i*)p); }
static inline tc_vf bf16_even(tc_vi16 v) { return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)); }
static inline tc_vf bf16_odd(tc_vi16 v) {
  return _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32((int)0xffff0000u)));
}
#define TC_FAST_F32 1
#else
#define TC_VW 1
#define TC_FAST_F32 0
#endif

template <int BP>
static inline float ldB1(const void* B, int64_t i) {
  return BP == 0   ? ((const float*)B)[i]
         : BP == 1 ? b2f(((const uint16_t*)B)[i])
                   : h2f(((const uint16_t*)B)[i]);
}

static int fast_threads(double work, int64_t units) {
  if (in_pool() || work < 65536.0 || units < 2) return 1;
  return (int)std::min<int64_t>(pool_width(), units);
}

#if TC_FAST_F32
/**
 * P[0..R)[n .. n+NV*VW) (+)= A[0..R)[k0..k0+kc) · B[k0..)[n..]; R, NV compile-time: the tile lives
 * in registers.
 */
template <int BP, int R, int NV>
static inline void tile(int kc, const float* A, int64_t as0, int64_t as1, const void* B, int64_t ldb,
                        int64_t n, float* P, int64_t ldp, bool first) {
  tc_vf acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = first ? vzero() : vldu(P + r * ldp + n + v * TC_VW);
  for (int k = 0; k < kc; ++k) {
    tc_vf b[NV];
    for (int v = 0; v < NV; ++v) b[v] = vldB<BP>(B, (int64_t)k * ldb + n + v * TC_VW);
    for (int r = 0; r < R; ++r) {
      const tc_vf a = vset1(A[r * as0 + k * as1]);
      for (int v = 0; v < NV; ++v) acc[r][v] = vfma(a, b[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) vstu(P + r * ldp + n + v * TC_VW, acc[r][v]);
}

template <int BP, int NV>
static inline void tile_rows(int R, int kc, const float* A, int64_t as0, int64_t as1, const void* B,
                             int64_t ldb, int64_t n, float* P, int64_t ldp, bool first) {
  switch (R) {
    case 1: tile<BP, 1, NV>(kc, A, as0, as1, B, ldb, n, P, ldp, first); break;
    case 2: tile<BP, 2, NV>(kc, A, as0, as1, B, ldb, n, P, ldp, first); break;
    case 3: tile<BP, 3, NV>(kc, A, as0, as1, B, ldb, n, P, ldp, first); break;
    default: tile<BP, 4, NV>(kc, A, as0, as1, B, ldb, n, P, ldp, first); break;
  }
}

/** Columns [c0, c1) of P = A·B (P row-major M×N, leading dimension ldp). */
template <int BP>
static void rowB_cols(int M, int K, const float* A, int64_t as0, int64_t as1, const void* B, int64_t ldb,
                      float* P, int64_t ldp, int64_t c0, int64_t c1) {
  // one or two rows: wide tiles (more independent loads per B row); more rows: 4-row tiles over a
  // k-block panel
  const int KC = M <= 2 ? K : 256;
  constexpr int NVW = TC_VW == 16 ? 8 : 4, NVN = TC_VW == 16 ? 4 : 2;
  const int RT = M <= 2 ? M : 4;
  for (int k0 = 0; k0 < K; k0 += KC) {
    const int kc = std::min(KC, K - k0);
    const bool first = k0 == 0;
    const float* Ak = A + (int64_t)k0 * as1;
    const void* Bk = BP == 0 ? (const void*)((const float*)B + (int64_t)k0 * ldb)
                             : (const void*)((const uint16_t*)B + (int64_t)k0 * ldb);
    int64_t n = c0;
    if (BP != 0 && M > 4) {
      // 16-bit weights, many rows: widen each kc × NB panel once into an f32 buffer in L1/L2, then every
      // row group runs the f32 tile on it (the widening is paid once per panel, not once per row group)
      constexpr int NB = NVN * TC_VW;
      alignas(64) static thread_local float pan[256 * NB];
      for (; n + NB <= c1; n += NB) {
        for (int k = 0; k < kc; ++k)
          for (int v = 0; v < NVN; ++v)
            vstu(pan + k * NB + v * TC_VW, vldB<BP>(Bk, (int64_t)k * ldb + n + v * TC_VW));
        for (int i = 0; i < M; i += RT)
          tile_rows<0, NVN>(std::min(RT, M - i), kc, Ak + i * as0, as0, as1, pan, NB, 0, P + i * ldp + n, ldp,
                            first);
      }
    }
    if (M <= 2)
      for (; n + NVW * TC_VW <= c1; n += NVW * TC_VW)
        tile_rows<BP, NVW>(M, kc, Ak, as0, as1, Bk, ldb, n, P, ldp, first);
    for (; n + NVN * TC_VW <= c1; n += NVN * TC_VW)
      for (int i = 0; i < M; i += RT)
        tile_rows<BP, NVN>(std::min(RT, M - i), kc, Ak + i * as0, as0, as1, Bk, ldb, n, P + i * ldp, ldp,
                           first);
    for (; n + TC_VW <= c1; n += TC_VW)
      for (int i = 0; i < M; i += 4)
        tile_rows<BP, 1>(std::min(4, M - i), kc, Ak + i * as0, as0, as1, Bk, ldb, n, P + i * ldp, ldp, first);
    for (; n < c1; ++n)
      for (int i = 0; i < M; ++i) {
        float s = first ? 0.0f : P[i * ldp + n];
        for (int k = 0; k < kc; ++k) s += Ak[i * as0 + k * as1] * ldB1<BP>(Bk, (int64_t)k * ldb + n);
        P[i * ldp + n] = s;
      }
  }
}

/**
 * acc[0..N) += Σ_{k in [k0,k1)} a[k]·B[k][0..N): whole weight rows, four at a time, one from each
 * quarter of the range, so the four streams each read a long run of consecutive rows. (Four
 * consecutive rows are four short streams that jump every row; with 768-column rows the prefetcher
 * lost them: f16 {3072,768} on one core 8–11 GB/s that way, 20 this way.)
 */
template <int BP>
static void rowB_vec_rows(const float* A, int64_t as1, const void* B, int64_t ldb, int N, float* acc, int k0,
                          int k1) {
  const int Q = (k1 - k0) / 4;
  for (int i = 0; i < Q; ++i) {
    const int k = k0 + i;
    const tc_vf a0 = vset1(A[k * as1]), a1 = vset1(A[(k + Q) * as1]), a2 = vset1(A[(k + 2 * Q) * as1]),
                a3 = vset1(A[(k + 3 * Q) * as1]);
    const int64_t r0 = (int64_t)k * ldb, r1 = r0 + Q * ldb, r2 = r1 + Q * ldb, r3 = r2 + Q * ldb;
    int n = 0;
    for (; n + TC_VW <= N; n += TC_VW) {
      tc_vf t = vfma(a0, vldB<BP>(B, r0 + n), vldu(acc + n));
      t = vfma(a1, vldB<BP>(B, r1 + n), t);
      t = vfma(a2, vldB<BP>(B, r2 + n), t);
      vstu(acc + n, vfma(a3, vldB<BP>(B, r3 + n), t));
    }
    for (; n < N; ++n)
      acc[n] += A[k * as1] * ldB1<BP>(B, r0 + n) + A[(k + Q) * as1] * ldB1<BP>(B, r1 + n) +
                A[(k + 2 * Q) * as1] * ldB1<BP>(B, r2 + n) + A[(k + 3 * Q) * as1] * ldB1<BP>(B, r3 + n);
  }
  for (int k = k0 + 4 * Q; k < k1; ++k) {
    const tc_vf a = vset1(A[k * as1]);
    const int64_t r = (int64_t)k * ldb;
    int n = 0;
    for (; n + TC_VW <= N; n += TC_VW) vstu(acc + n, vfma(a, vldB<BP>(B, r + n), vldu(acc + n)));
    for (; n < N; ++n) acc[n] += A[k * as1] * ldB1<BP>(B, r + n);
  }
}

// bf16 rows without a widening step: a bf16 is the top half of an f32, so in each 32-bit lane of a
// vector of bf16 pairs, a shift gives the even column's f32 and a mask the odd one's (2 operations
// per 2·VW weights, against 4 for zero-extend-and-shift). The accumulator row then holds, per block of
// 2·VW columns, the even columns' sums and then the odd ones'; columns past the last whole block stay
// in place. Each column's sum is formed in the same order as rowB_vec_rows<1>'s.
/** Where column n's sum sits in the bf16 accumulator row (NF: columns in whole blocks). */
static inline int bf16_acc_index(int n, int NF) {
  if (n >= NF) return n;
  const int c = n % (2 * TC_VW);
  return n - c + (c % 2) * TC_VW + c / 2;
}
static void rowB_vec_rows_bf16(const float* A, int64_t as1, const uint16_t* B, int64_t ldb, int N, float* acc,
                               int k0, int k1) {
  const int NF = N / (2 * TC_VW) * (2 * TC_VW);
  const int Q = (k1 - k0) / 4; // one row from each quarter of the range per pass (rowB_vec_rows)
  for (int i = 0; i < Q; ++i) {
    const int k = k0 + i;
    const tc_vf a0 = vset1(A[k * as1]), a1 = vset1(A[(k + Q) * as1]), a2 = vset1(A[(k + 2 * Q) * as1]),
                a3 = vset1(A[(k + 3 * Q) * as1]);
    const uint16_t* b0 = B + (int64_t)k * ldb;
    const uint16_t *b1 = b0 + (int64_t)Q * ldb, *b2 = b1 + (int64_t)Q * ldb, *b3 = b2 + (int64_t)Q * ldb;
    for (int n = 0; n < NF; n += 2 * TC_VW) {
      const tc_vi16 w0 = vi16_ldu(b0 + n), w1 = vi16_ldu(b1 + n), w2 = vi16_ldu(b2 + n), w3 = vi16_ldu(b3 + n);
      tc_vf e = vfma(a0, bf16_even(w0), vldu(acc + n)), o = vfma(a0, bf16_odd(w0), vldu(acc + n + TC_VW));
      e = vfma(a1, bf16_even(w1), e);
      o = vfma(a1, bf16_odd(w1), o);
      e = vfma(a2, bf16_even(w2), e);
      o = vfma(a2, bf16_odd(w2), o);
      vstu(acc + n, vfma(a3, bf16_even(w3), e));
      vstu(acc + n + TC_VW, vfma(a3, bf16_odd(w3), o));
    }
    for (int n = NF; n < N; ++n)
      acc[n] += A[k * as1] * b2f(b0[n]) + A[(k + Q) * as1] * b2f(b1[n]) + A[(k + 2 * Q) * as1] * b2f(b2[n]) +
                A[(k + 3 * Q) * as1] * b2f(b3[n]);
  }
  for (int k = k0 + 4 * Q; k < k1; ++k) {
    const tc_vf a = vset1(A[k * as1]);
    const uint16_t* b0 = B + (int64_t)k * ldb;
    for (int n = 0; n < NF; n += 2 * TC_VW) {
      const tc_vi16 w = vi16_ldu(b0 + n);
      vstu(acc + n, vfma(a, bf16_even(w), vldu(acc + n)));
      vstu(acc + n + TC_VW, vfma(a, bf16_odd(w), vldu(acc + n + TC_VW)));
    }
    for (int n = NF; n < N; ++n) acc[n] += A[k * as1] * b2f(b0[n]);
  }
}

/**
 * One row times a matrix (a decode step's projections): the threads split the weight's ROWS, so each
 * streams a contiguous block of memory (column chunks would read it with a stride), into private
 * accumulators summed at the end. The split is static, so a thread count always gives the same sums.
 */
template <int BP>
static void rowB_vec(int K, int N, const float* A, int64_t as1, const void* B, int64_t ldb, float* P) {
  const int nt = fast_threads((double)K * N, K / 64);
  static thread_local std::vector<float> buf;
  const int64_t NP = (N + 15) / 16 * 16;
  if ((int64_t)buf.size() < nt * NP) buf.resize((size_t)(nt * NP));
  float* accs = buf.data();
  std::memset(accs, 0, sizeof(float) * (size_t)(nt * NP));
  on_threads(nt, [&](int t, int T) {
    const int k0 = (int)((int64_t)K * t / T), k1 = (int)((int64_t)K * (t + 1) / T);
    if constexpr (BP == 1)
      rowB_vec_rows_bf16(A, as1, (const uint16_t*)B, ldb, N, accs + t * NP, k0, k1);
    else
      rowB_vec_rows<BP>(A, as1, B, ldb, N, accs + t * NP, k0, k1);
  });
  const int NF = N / (2 * TC_VW) * (2 * TC_VW);
  for (int n = 0; n < N; ++n) {
    const int j = BP == 1 ? bf16_acc_index(n, NF) : n;
    float s = accs[j];
    for (int t = 1; t < nt; ++t) s += accs[t * NP + j];
    P[n] = s;
  }
}

// ---- many rows (prefill): packed operands and an MR × NB register tile ----
// A is packed once per product into k-blocks of row groups ([kc][R], so the broadcasts of one k are
// adjacent); each thread packs the B block of its column chunk (kc × NC, widened to f32, rows read
// sequentially) into NB-column panels that stay in L1 while every row group passes over them.
// AVX-512: 8 × 48 (24 accumulators; per k 3 panel loads, 8 broadcasts, 24 FMAs), measured 80 GFLOP/s
// per core alone against 25 for the 4 × 64 tile on unpacked B. AVX2 has 16 registers: 6 × 16
// (12 accumulators, 2 panel loads, 6 broadcasts; the classic Haswell BLIS shape), k-blocks of 256.
// The FMA ports, not the loads, are the limit (docs/performance.md).
constexpr int GP_MR = TC_VW == 16 ? 8 : 6, GP_KC = TC_VW == 16 ? 128 : 256, GP_NV = TC_VW == 16 ? 3 : 2,
              GP_NV_MAX = TC_VW == 16 ? 4 : 2;

// Shared scaffolding of the packed many-row products (f32 here, int8 below).
// fn(std::integral_constant<int, R>) for a row-group height R in 1..MR: register tiles need R at
// compile time.
template <int MR, class Fn>
static inline void with_rows(int R, Fn&& fn) {
  if constexpr (MR > 1) {
    if (R >= MR) return fn(std::integral_constant<int, MR>{});
    return with_rows<MR - 1>(R, fn);
  } else
    fn(std::integral_constant<int, 1>{});
}
/** Store masks of the NV vectors of a panel whose first left columns are real. */
template <int NV, int VW, class Mask, class MaskOf>
static inline void panel_masks(int left, Mask* mk, MaskOf&& mask_of) {
  for (int v = 0; v < NV; ++v, left -= VW) mk[v] = mask_of(left);
}
/** A 64-byte aligned thread-local buffer of at least n elements (grown, never shrunk). */
template <class T>
static inline T* tls_aligned(std::vector<T>& v, int64_t n) {
  if ((int64_t)v.size() < n + 64 / (int64_t)sizeof(T)) v.resize((size_t)(n + 64 / sizeof(T)));
  return (T*)(((uintptr_t)v.data() + 63) & ~(uintptr_t)63);
}
/**
 * A packed for the tiles: blocks of blk along k (of KB), each holding row groups of up to MR rows
 * as [k][row], so one k's broadcasts are adjacent: ap[q0·M + i0·kb + q·R + r] = elem(i0 + r, q0 + q).
 */
template <int MR, class T, class Elem>
static T* pack_rows(std::vector<T>& buf, int M, int KB, int blk, Elem&& elem) {
  if ((int64_t)buf.size() < (int64_t)M * KB) buf.resize((size_t)M * KB);
  T* ap = buf.data();
  for (int q0 = 0; q0 < KB; q0 += blk) {
    const int kb = std::min(blk, KB - q0);
    for (int i0 = 0; i0 < M; i0 += MR) {
      const int R = std::min(MR, M - i0);
      T* d = ap + (int64_t)q0 * M + (int64_t)i0 * kb;
      for (int q = 0; q < kb; ++q)
        for (int r = 0; r < R; ++r) d[q * R + r] = elem(i0 + r, q0 + q);
    }
  }
  return ap;
}
/**
 * chunk(n0, nc) over the columns, one wide chunk per thread (a multiple of NB columns): B's rows are
 * then read in long runs (short strided runs touch every 4 KB page once per chunk, and measured
 * 6 GB/s against ~15 for long ones).
 */
template <class Fn>
static void over_column_chunks(double work, int64_t N, int NB, Fn&& chunk) {
  const int nt = fast_threads(work, (N + NB - 1) / NB);
  const int64_t NC = ((N + nt - 1) / nt + NB - 1) / NB * NB;
  const int64_t nblk = (N + NC - 1) / NC;
  run_chunks(nblk, nt, [&](int64_t b, int slot) {
    (void)slot;
    chunk(b * NC, (int)std::min<int64_t>(NC, N - b * NC));
  });
}

// FULL: every column of the panel is real, so P is read and written with plain loads and stores
// (AVX2's masked store, vmaskmovps, is microcoded on AMD Zen: ~12 cycles each, 12 of them per
// tile and k-block; one core's f32 prefill product measured ~7-12% faster without them)
template <int R, int NV, bool FULL>
static inline void gp_tile(int kc, const float* Ap, const float* pan, float* P, int64_t ldp, bool first,
                           const tc_mask* mk) {
  tc_vf acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v)
      acc[r][v] = first ? vzero() : FULL ? vldu(P + r * ldp + v * TC_VW) : vldm(P + r * ldp + v * TC_VW, mk[v]);
  for (int k = 0; k < kc; ++k) {
    tc_vf b[NV];
    for (int v = 0; v < NV; ++v) b[v] = vlda(pan + k * NV * TC_VW + v * TC_VW);
    for (int r = 0; r < R; ++r) {
      const tc_vf a = vset1(Ap[k * R + r]);
      for (int v = 0; v < NV; ++v) acc[r][v] = vfma(a, b[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) {
      if constexpr (FULL) vstu(P + r * ldp + v * TC_VW, acc[r][v]);
      else vstm(P + r * ldp + v * TC_VW, mk[v], acc[r][v]);
    }
}

/** P{M,N} = A·B for M > 4 (P row-major, leading dimension N), B packed in KC × (NV·VW) tiles. */
template <int BP, int NV>
static void gemm_packed(int M, int K, int N, const float* A, int64_t as0, int64_t as1, const void* B,
                        int64_t ldb, float* P, const int KC) {
  constexpr int NB = NV * TC_VW;
  static thread_local std::vector<float> apk;
  const float* ap = pack_rows<GP_MR>(apk, M, K, KC,
                                     [&](int i, int k) { return A[(int64_t)i * as0 + (int64_t)k * as1]; });
  static thread_local std::vector<float> pan_tls;
  over_column_chunks((double)M * K * N, N, NB, [&](int64_t n0, int nc) {
    float* const pan = tls_aligned(pan_tls, (int64_t)KC * (nc + NB));
    const int np = (nc + NB - 1) / NB;
    for (int k0 = 0; k0 < K; k0 += KC) {
      const int kc = std::min(KC, K - k0);
      for (int k = 0; k < kc; ++k) {
        const int64_t row = (int64_t)(k0 + k) * ldb + n0;
        int n = 0;
        for (; n + TC_VW <= nc; n += TC_VW)
          vsta(pan + (n / NB) * kc * NB + k * NB + n % NB, vldB<BP>(B, row + n));
        for (; n < np * NB; n += TC_VW) {
          alignas(64) float t[TC_VW];
          for (int j = 0; j < TC_VW; ++j) t[j] = n + j < nc ? ldB1<BP>(B, row + n + j) : 0.0f;
          vsta(pan + (n / NB) * kc * NB + k * NB + n % NB, vlda(t));
        }
      }
      for (int p = 0; p < np; ++p) {
        tc_mask mk[NV];
        panel_masks<NV, TC_VW>(nc - p * NB, mk, vmask);
        const bool full = nc - p * NB >= NB;
        for (int i0 = 0; i0 < M; i0 += GP_MR)
          with_rows<GP_MR>(std::min(GP_MR, M - i0), [&](auto R) {
            constexpr int RR = decltype(R)::value;
            const float* const a = ap + (int64_t)k0 * M + (int64_t)i0 * kc;
            const float* const b = pan + (int64_t)p * kc * NB;
            float* const c = P + (int64_t)i0 * N + n0 + p * NB;
            if (full) gp_tile<RR, NV, true>(kc, a, b, c, N, k0 == 0, mk);
            else gp_tile<RR, NV, false>(kc, a, b, c, N, k0 == 0, mk);
          });
      }
    }
  });
}

/** The packed product with the tile a Tiled(KC x NB) weight declares (0, 0: the default tile). */
template <int BP>
static void gemm_tiled(int M, int K, int N, const float* A, int64_t as0, int64_t as1, const void* B,
                       int64_t ldb, float* P, int kc, int nb) {
  const int KC = kc <= 0 ? GP_KC : std::min(1024, std::max(16, kc));
  switch (nb <= 0 ? GP_NV : std::min(GP_NV_MAX, std::max(1, (nb + TC_VW / 2) / TC_VW))) {
    case 1: gemm_packed<BP, 1>(M, K, N, A, as0, as1, B, ldb, P, KC); break;
    case 2: gemm_packed<BP, 2>(M, K, N, A, as0, as1, B, ldb, P, KC); break;
#if TC_VW == 16
    case 4: gemm_packed<BP, 4>(M, K, N, A, as0, as1, B, ldb, P, KC); break;
    default: gemm_packed<BP, 3>(M, K, N, A, as0, as1, B, ldb, P, KC); break;
#else
    default: gemm_packed<BP, 2>(M, K, N, A, as0, as1, B, ldb, P, KC); break;
#endif
  }
}

// ---- AMX tiles (Sapphire Rapids and later): shared by the int8 and the float products below ----
// Linux lends AMX's tile state only on request (arch_prctl ARCH_REQ_XCOMP_PERM, once per process);
// where the kernel or a VM refuses it, the AVX-512 paths run instead.
#if TC_VW == 16 && defined(__AMX_TILE__) && defined(__AMX_INT8__) && defined(__AVX512BW__) && defined(__linux__)
#define TC_AMX 1
static bool amx_ready() {
  static const bool ok = [] {
    // TENSORCORE_AMX=0 keeps the AVX-512 paths (to compare, or to rule AMX out)
    const char* env = std::getenv("TENSORCORE_AMX");
    if (env && std::strcmp(env, "0") == 0) return false;
    constexpr long ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18;
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
  }();
  return ok;
}
/** Every tile 16 rows × 64 bytes (palette 1); loaded per product and released after it. */
static void amx_configure() {
  struct alignas(64) Config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
  } c{};
  c.palette = 1;
  for (int t = 0; t < 8; ++t) {
    c.rows[t] = 16;
    c.colsb[t] = 64;
  }
  _tile_loadconfig(&c);
}
#else
#define TC_AMX 0
#endif
#if TC_AMX && defined(__AMX_BF16__)
#define TC_AMX_BF16 1
#else
#define TC_AMX_BF16 0
#endif

// Many rows of f32 × f32/bf16/f16 weights on AMX-BF16 tiles (TDPBF16PS: a 16 × 32 bf16 tile times a
// 32 × 16 one, accumulated into 16 × 16 f32 with one round-to-nearest FMA per product). The
// language's MMUL multiplies exact f32 values, so nothing is rounded to bf16: each f32 is split into
// three bf16 pieces whose sum is exactly it (hi: the top 8 significant bits, by truncation; mid: the
// next 8 of the remainder; lo: the rest, which has at most 8), a bf16 weight is one piece, an f16 two
// (11 bits). Every product of two pieces is exact in f32, and the passes add the pieces' products
// whose size can reach 2^-24 of the term (a+j ≤ 2 of hi/mid/lo a and weight piece j; the dropped
// ones are below 2^-21 of it together), small pieces first. Each pass rounds once per product (one
// FMA each), so an output differs from the exact sum by at most (6K + 8)·2^-24·Σ|terms| with an f32
// weight (6 passes; 5 with f16, 3 with bf16), against (K+2) for the AVX-512 path; measured it is
// ~1–2·2^-24·Σ|terms| against that path's 3–5.
// AMX treats denormal inputs as zero and flushes denormal results, and an infinite value's pieces
// would make NaN: so A and each block of B are checked while they are split, and a product with a
// value that is not finite, or nonzero below 2^-40 (whose pieces' products could be denormal), is
// left to the AVX-512 path (bf_amx returns false), which gives IEEE's answer; so is one whose AMX
// result overflowed.
// Blocking: k-blocks of 128; each thread packs its column chunk of B per k-block into 16-column
// panels of (k, k+1) pairs per piece, and accumulates 32 × 32 blocks (tiles 0-3; A 4-5, B 6-7) into a
// scratch copy of its columns, which is copied into P at the end.
#if TC_AMX_BF16
/** x = h + m + l exactly (each an f32 with its low 16 bits zero: a bf16 in the top half). */
static inline void split3(__m512 x, __m512i& h, __m512i& m, __m512i& l) {
  const __m512i top = _mm512_set1_epi32((int)0xffff0000u);
  h = _mm512_and_si512(_mm512_castps_si512(x), top);
  const __m512 r1 = _mm512_sub_ps(x, _mm512_castsi512_ps(h));
  m = _mm512_and_si512(_mm512_castps_si512(r1), top);
  l = _mm512_castps_si512(_mm512_sub_ps(r1, _mm512_castsi512_ps(m))); // at most 8 significant bits
}
/** Lanes that are infinite or NaN. */
static inline __mmask16 nonfinite(__m512 x) {
  return _mm512_cmp_ps_mask(_mm512_abs_ps(x), _mm512_set1_ps(std::numeric_limits<float>::max()), _CMP_NLE_UQ);
}
/** Lanes AMX must not see: not finite, or nonzero with |x| < 2^-40. */
static inline __mmask16 amx_unsafe(__m512 x) {
  const __m512 ax = _mm512_abs_ps(x);
  return nonfinite(x) | (_mm512_cmp_ps_mask(ax, _mm512_set1_ps(0x1p-40f), _CMP_LT_OQ) &
                         _mm512_cmp_ps_mask(ax, _mm512_setzero_ps(), _CMP_NEQ_OQ));
}
constexpr int BF_KC = 128; // k per block (a multiple of 32)
/** P{M,N} = A·B on AMX-BF16 tiles; false (P unspecified) when a value must take the AVX-512 path. */
template <int BP>
static bool bf_amx(int M, int K, int N, const float* A, int64_t as0, int64_t as1, const void* B, int64_t ldb,
                   float* P) {
  constexpr int NBP = BP == 0 ? 3 : BP == 1 ? 1 : 2; // pieces of a weight
  const int KP = (K + 31) / 32 * 32, MP = (M + 31) / 32 * 32;
  const int64_t asz = (int64_t)MP * KP;
  static thread_local std::vector<uint16_t> abuf;
  uint16_t* const ap = tls_aligned(abuf, 3 * asz); // [piece][row][k], zeros past M and K
  std::atomic<bool> refused{false};
  // A's pieces, 16 rows per chunk across the threads (one thread splitting 128 × 3072 took ~15% of the product)
  run_chunks(MP / 16, fast_threads((double)MP * KP * 16, MP / 16), [&](int64_t blk, int) {
    __mmask16 bad = 0;
    for (int i = (int)blk * 16; i < (int)blk * 16 + 16; ++i)
      for (int k = 0; k < KP; k += 16) {
        alignas(64) float t[16];
        const bool real = i < M;
        if (real && as1 == 1 && k + 16 <= K) std::memcpy(t, A + (int64_t)i * as0 + k, sizeof t);
        else
          for (int j = 0; j < 16; ++j) t[j] = real && k + j < K ? A[(int64_t)i * as0 + (int64_t)(k + j) * as1] : 0.0f;
        const __m512 x = _mm512_load_ps(t);
        bad |= amx_unsafe(x);
        __m512i h, m, l;
        split3(x, h, m, l);
        const int64_t o = (int64_t)i * KP + k;
        _mm256_storeu_si256((__m256i*)(ap + o), _mm512_cvtepi32_epi16(_mm512_srli_epi32(h, 16)));
        _mm256_storeu_si256((__m256i*)(ap + asz + o), _mm512_cvtepi32_epi16(_mm512_srli_epi32(m, 16)));
        _mm256_storeu_si256((__m256i*)(ap + 2 * asz + o), _mm512_cvtepi32_epi16(_mm512_srli_epi32(l, 16)));
      }
    if (bad) refused.store(true);
  });
  if (refused.load()) return false;
  static thread_local std::vector<uint32_t> pan_tls;
  static thread_local std::vector<float> acc_tls;
  over_column_chunks((double)M * K * N, N, 32, [&](int64_t n0, int nc) {
    const int ncp = (nc + 31) / 32 * 32, np = ncp / 16;
    const int64_t psz = (int64_t)BF_KC / 2 * 16; // one panel: KC/2 rows of 16 (k, k+1) pairs
    uint32_t* const pan = tls_aligned(pan_tls, (int64_t)NBP * np * psz);
    float* const acc = tls_aligned(acc_tls, (int64_t)MP * ncp);
    amx_configure();
    for (int k0 = 0; k0 < KP && !refused.load(std::memory_order_relaxed); k0 += BF_KC) {
      const int kc = std::min(BF_KC, KP - k0);
      __mmask16 badb = 0;
      for (int q = 0; q < kc / 2; ++q) // rows k, k+1 read across the chunk in one run (from memory, weights
        for (int p = 0; p < np; ++p) {  // read panel by panel down the rows went ~30% slower)
          const int cols = std::max(0, std::min(16, nc - 16 * p));
          const __mmask16 mk = (__mmask16)vmask(cols);
          __m512 r[2];
          for (int t = 0; t < 2; ++t) {
            const int k = k0 + 2 * q + t;
            const int64_t off = (int64_t)k * ldb + n0 + 16 * p;
            if (k >= K || cols == 0) r[t] = _mm512_setzero_ps();
            else if (BP == 0) r[t] = _mm512_maskz_loadu_ps(mk, (const float*)B + off);
            else {
              const __m256i v = _mm256_maskz_loadu_epi16(mk, (const uint16_t*)B + off);
              r[t] = BP == 1 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16)) : _mm512_cvtph_ps(v);
            }
            badb |= amx_unsafe(r[t]);
          }
          __m512i h0, m0, l0, h1, m1, l1;
          split3(r[0], h0, m0, l0);
          split3(r[1], h1, m1, l1);
          // lane c: (piece of B[k][c], piece of B[k+1][c]) as the low and high bf16 of one dword
          const __m512i pc[3] = {_mm512_or_si512(_mm512_srli_epi32(h0, 16), h1), _mm512_or_si512(_mm512_srli_epi32(m0, 16), m1),
                                 _mm512_or_si512(_mm512_srli_epi32(l0, 16), l1)};
          for (int j = 0; j < NBP; ++j)
            _mm512_store_si512((void*)(pan + ((int64_t)j * np + p) * psz + (int64_t)q * 16), pc[j]);
        }
      if (badb) {
        refused.store(true);
        break;
      }
      for (int i0 = 0; i0 < MP; i0 += 32) // a row block's pieces (3 × 32 × KC bf16) stay in L1 over the panels
        for (int p = 0; p < np; p += 2) {
          float* const c = acc + (int64_t)i0 * ncp + 16 * p;
          const int64_t ldc = (int64_t)ncp * 4;
          if (k0 == 0) {
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
          } else {
            _tile_loadd(0, c, ldc);
            _tile_loadd(1, c + 16, ldc);
            _tile_loadd(2, c + (int64_t)16 * ncp, ldc);
            _tile_loadd(3, c + (int64_t)16 * ncp + 16, ldc);
          }
          for (int ks = 0; ks < kc; ks += 32)
            for (int j = NBP - 1; j >= 0; --j) {
              const uint32_t* const b0 = pan + ((int64_t)j * np + p) * psz + (int64_t)(ks / 2) * 16;
              _tile_loadd(6, b0, 64);
              _tile_loadd(7, b0 + psz, 64);
              for (int a = 2 - j; a >= 0; --a) {
                const uint16_t* const a0 = ap + a * asz + (int64_t)i0 * KP + k0 + ks;
                _tile_loadd(4, a0, (int64_t)KP * 2);
                _tile_loadd(5, a0 + (int64_t)16 * KP, (int64_t)KP * 2);
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
              }
            }
          _tile_stored(0, c, ldc);
          _tile_stored(1, c + 16, ldc);
          _tile_stored(2, c + (int64_t)16 * ncp, ldc);
          _tile_stored(3, c + (int64_t)16 * ncp + 16, ldc);
        }
    }
    _tile_release();
    if (refused.load()) return;
    // The inputs are finite, so an infinity here is an overflow of a partial sum that the pieces' order
    // (small pieces first) made and that the exact sum need not have: such a product is left to the
    // AVX-512 path, which adds in k order.
    __mmask16 inf = 0;
    for (int i = 0; i < M; ++i)
      for (int n = 0; n < nc; n += 16)
        inf |= nonfinite(_mm512_maskz_loadu_ps((__mmask16)vmask(nc - n), acc + (int64_t)i * ncp + n));
    if (inf) {
      refused.store(true);
      return;
    }
    for (int i = 0; i < M; ++i)
      std::memcpy(P + (int64_t)i * N + n0, acc + (int64_t)i * ncp, sizeof(float) * (size_t)nc);
  });
  return !refused.load();
}
#endif
template <int BP>
static void rowB(int M, int K, int N, const float* A, int64_t as0, int64_t as1, const void* B, int64_t ldb,
                 float* P, int kc, int nb) {
  if (K == 0) {
    std::memset(P, 0, sizeof(float) * (size_t)M * N);
    return;
  }
  if (M == 1 && K >= 64) {
    rowB_vec<BP>(K, N, A, as1, B, ldb, P);
    return;
  }
  // (small products, as attention's per-tile ones, keep the unpacked tiles: packing would cost more)
  if (M > 4 && (double)M * K * N >= 1 << 18) {
#if TC_AMX_BF16
    if (M >= 16 && amx_ready() && bf_amx<BP>(M, K, N, A, as0, as1, B, ldb, P)) return;
#endif
    gemm_tiled<BP>(M, K, N, A, as0, as1, B, ldb, P, kc, nb);
    return;
  }
  // column chunks claimed dynamically: a thread that the scheduler starts late finds the work done
  // instead of starting its whole static half then (the machine is often shared)
  const int64_t blk = (M <= 2 ? 8 : 4) * TC_VW;
  const int64_t nblk = (N + blk - 1) / blk;
  const int nt = fast_threads((double)M * K * N, nblk);
  run_chunks(nblk, nt, [&](int64_t b, int slot) {
    (void)slot;
    rowB_cols<BP>(M, K, A, as0, as1, B, ldb, P, N, b * blk, std::min<int64_t>(N, (b + 1) * blk));
  });
}

/** P[i] = Σ_k A[i,k]·x[k] for rows [r0, r1), A rows contiguous (leading dimension lda). */
template <int AP>
static inline float rowA_one(int K, const void* A, int64_t i, int64_t lda, const float* x) {
  tc_vf s0 = vzero(), s1 = vzero();
  int k = 0;
  for (; k + 2 * TC_VW <= K; k += 2 * TC_VW) {
    s0 = vfma(vldB<AP>(A, i * lda + k), vldu(x + k), s0);
    s1 = vfma(vldB<AP>(A, i * lda + k + TC_VW), vldu(x + k + TC_VW), s1);
  }
  for (; k + TC_VW <= K; k += TC_VW) s0 = vfma(vldB<AP>(A, i * lda + k), vldu(x + k), s0);
  float t0 = vsum(s0) + vsum(s1);
  for (; k < K; ++k) t0 += ldB1<AP>(A, i * lda + k) * x[k];
  return t0;
}
template <int AP>
static void rowA_rows(int K, const void* A, int64_t lda, const float* x, float* P, int64_t r0, int64_t r1) {
  // four rows per pass, one from each quarter of the block: four long sequential streams (four
  // neighbouring rows are four short streams that jump every row, which the prefetcher loses)
  const int64_t Q = (r1 - r0) / 4;
  const int KF = K / TC_VW * TC_VW;
  for (int64_t j = 0; j < Q; ++j) {
    const int64_t i0 = r0 + j, i1 = i0 + Q, i2 = i1 + Q, i3 = i2 + Q;
    tc_vf s0 = vzero(), s1 = vzero(), s2 = vzero(), s3 = vzero();
    for (int k = 0; k < KF; k += TC_VW) {
      const tc_vf xv = vldu(x + k);
      s0 = vfma(vldB<AP>(A, i0 * lda + k), xv, s0);
      s1 = vfma(vldB<AP>(A, i1 * lda + k), xv, s1);
      s2 = vfma(vldB<AP>(A, i2 * lda + k), xv, s2);
      s3 = vfma(vldB<AP>(A, i3 * lda + k), xv, s3);
    }
    float t0 = vsum(s0), t1 = vsum(s1), t2 = vsum(s2), t3 = vsum(s3);
    for (int k = KF; k < K; ++k) {
      t0 += ldB1<AP>(A, i0 * lda + k) * x[k];
      t1 += ldB1<AP>(A, i1 * lda + k) * x[k];
      t2 += ldB1<AP>(A, i2 * lda + k) * x[k];
      t3 += ldB1<AP>(A, i3 * lda + k) * x[k];
    }
    P[i0] = t0;
    P[i1] = t1;
    P[i2] = t2;
    P[i3] = t3;
  }
  for (int64_t i = r0 + 4 * Q; i < r1; ++i) P[i] = rowA_one<AP>(K, A, i, lda, x);
}

template <int AP>
static void rowA(int M, int K, const void* A, int64_t lda, const float* x, float* P) {
  const int64_t blk = 256;
  const int64_t nblk = (M + blk - 1) / blk;
  const int nt = fast_threads((double)M * K, nblk);
  run_chunks(nblk, nt, [&](int64_t b, int slot) {
    (void)slot;
    rowA_rows<AP>(K, A, lda, x, P, b * blk, std::min<int64_t>(M, (b + 1) * blk));
  });
}
#else
// portable: plain loops (the compiler vectorizes the inner column loop for the host's SSE)
template <int BP>
static void rowB(int M, int K, int N, const float* A, int64_t as0, int64_t as1, const void* B, int64_t ldb,
                 float* P, int, int) {
  std::memset(P, 0, sizeof(float) * (size_t)M * N);
  for (int i = 0; i < M; ++i)
    for (int k = 0; k < K; ++k) {
      const float a = A[i * as0 + k * as1];
      float* p = P + (int64_t)i * N;
      for (int n = 0; n < N; ++n) p[n] += a * ldB1<BP>(B, (int64_t)k * ldb + n);
    }
}
template <int AP>
static void rowA(int M, int K, const void* A, int64_t lda, const float* x, float* P) {
  for (int i = 0; i < M; ++i) {
    float s = 0;
    for (int k = 0; k < K; ++k) s += ldB1<AP>(A, i * lda + k) * x[k];
    P[i] = s;
  }
}
#endif

void mm_rowB(int M, int K, int N, const float* A, int64_t as0, int64_t as1, const void* B, int bp,
             int64_t ldb, float* P, int kc, int nb) {
#if !TC_FAST_F32
  if (bp == 0) {
    mm_f32(M == 1 ? 2 : 0, M, K, N, A, as0, as1, (const float*)B, ldb, 1, P);
    return;
  } // Eigen
#endif
  if (bp == 0)
    rowB<0>(M, K, N, A, as0, as1, B, ldb, P, kc, nb);
  else if (bp == 1)
    rowB<1>(M, K, N, A, as0, as1, B, ldb, P, kc, nb);
  else
    rowB<2>(M, K, N, A, as0, as1, B, ldb, P, kc, nb);
}

void mv_rowA(int M, int K, const void* A, int ap, int64_t lda, const float* x, float* P) {
#if !TC_FAST_F32
  if (ap == 0) {
    mm_f32(1, M, K, 1, (const float*)A, lda, 1, x, 1, 0, P);
    return;
  } // Eigen
#endif
  if (ap == 0)
    rowA<0>(M, K, A, lda, x, P);
  else if (ap == 1)
    rowA<1>(M, K, A, lda, x, P);
  else
    rowA<2>(M, K, A, lda, x, P);
}

// ---- int8 · int8 → int32 (wrapping, as the interpreter's sums) ----
// Pairs of k are multiplied by vpmaddwd: int16 pairs (a[k], a[k+1]) · (b[k][n], b[k+1][n]) summed into
// one int32 lane, which cannot overflow for int8 operands; int32 lanes then add modulo 2^32, so any
// order and any split across threads is bitwise the interpreter's sum. Hosts with VNNI use its fused
// form, vpdpwssd (the same multiply-add with the add folded in, also wrapping). AVX-512BW: 16 lanes;
// AVX2: 8. A pair of int8 values (a[k], a[k+1]) travels as two int16 halves of one int32.
#if TC_FAST_F32 && TC_VW == 16 && defined(__AVX512BW__) && defined(__AVX512VL__)
#define TC_I8 16
typedef __m512i tc_vi;
static inline tc_vi vi_zero() { return _mm512_setzero_si512(); }
static inline tc_vi vi_set1(int32_t x) { return _mm512_set1_epi32(x); }
static inline tc_vi vi_lda(const int32_t* p) { return _mm512_load_si512((const void*)p); }
static inline tc_vi vi_ldm(const int32_t* p, tc_mask m) { return _mm512_maskz_loadu_epi32(m, p); }
static inline void vi_stm(int32_t* p, tc_mask m, tc_vi v) { _mm512_mask_storeu_epi32(p, m, v); }
static inline tc_vi vi_ldu(const int32_t* p) { return _mm512_loadu_si512((const void*)p); }
static inline void vi_stu(int32_t* p, tc_vi v) { _mm512_storeu_si512((void*)p, v); }
static inline tc_vi vi_dot2(tc_vi acc, tc_vi a, tc_vi b) {
#if defined(__AVX512VNNI__)
  return _mm512_dpwssd_epi32(acc, a, b);
#else
  return _mm512_add_epi32(acc, _mm512_madd_epi16(a, b));
#endif
}
/** Lanes (b[k][n+j], b[k+1][n+j]) for the first `cols` (≤ 16) columns, zero beyond; r1 null: row k+1 = 0. */
static inline tc_vi vi_pairs(const int8_t* r0, const int8_t* r1, int cols) {
  const __mmask16 m = (__mmask16)vmask(cols);
  const __m512i b0 = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, r0));
  const __m512i b1 = r1 ? _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, r1)) : _mm512_setzero_si512();
  return _mm512_or_si512(_mm512_and_si512(b0, _mm512_set1_epi32(0xffff)), _mm512_slli_epi32(b1, 16));
}
#elif TC_FAST_F32 && TC_VW == 8
#define TC_I8 8
typedef __m256i tc_vi;
static inline tc_vi vi_zero() { return _mm256_setzero_si256(); }
static inline tc_vi vi_set1(int32_t x) { return _mm256_set1_epi32(x); }
static inline tc_vi vi_lda(const int32_t* p) { return _mm256_load_si256((const __m256i*)p); }
static inline tc_vi vi_ldm(const int32_t* p, tc_mask m) { return _mm256_maskload_epi32((const int*)p, m); }
static inline void vi_stm(int32_t* p, tc_mask m, tc_vi v) { _mm256_maskstore_epi32((int*)p, m, v); }
static inline tc_vi vi_ldu(const int32_t* p) { return _mm256_loadu_si256((const __m256i*)p); }
static inline void vi_stu(int32_t* p, tc_vi v) { _mm256_storeu_si256((__m256i*)p, v); }
static inline tc_vi vi_dot2(tc_vi acc, tc_vi a, tc_vi b) {
#if defined(__AVXVNNI__)
  return _mm256_dpwssd_avx_epi32(acc, a, b);
#elif defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpwssd_epi32(acc, a, b);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
#endif
}
/** Bytes of rows k and k+1 interleaved (vpunpcklbw), then sign-extended: lane j = (b[k][n+j], b[k+1][n+j]). */
static inline tc_vi vi_pairs_full(__m128i r0, __m128i r1) { return _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(r0, r1)); }
static inline tc_vi vi_pairs(const int8_t* r0, const int8_t* r1, int cols) {
  if (cols >= 8)
    return vi_pairs_full(_mm_loadl_epi64((const __m128i*)r0),
                         r1 ? _mm_loadl_epi64((const __m128i*)r1) : _mm_setzero_si128());
  alignas(16) int8_t t0[16] = {0}, t1[16] = {0};
  for (int j = 0; j < cols; ++j) {
    t0[j] = r0[j];
    t1[j] = r1 ? r1[j] : 0;
  }
  return vi_pairs_full(_mm_load_si128((const __m128i*)t0), _mm_load_si128((const __m128i*)t1));
}
#else
#define TC_I8 0
#endif

/** (a0, a1) as the int16 halves of one int32 (a1 = 0 past the end of a row). */
static inline int32_t i8_pair(int8_t a0, int8_t a1) {
  return (int32_t)((uint32_t)(uint16_t)(int16_t)a0 | ((uint32_t)(uint16_t)(int16_t)a1 << 16));
}

#if TC_I8 == 16
// Few rows, B read in place: 32-column register tiles over all of K.
template <int R>
static void i8_tile(int K, const int32_t* Ap, int64_t apld, const int8_t* B, int64_t ldb, int64_t n,
                    int ncols, int32_t* P, int64_t ldp) {
  // 32 columns n .. n+ncols (ncols <= 32); Ap[r*apld + k/2] = A pair (k, k+1) as two int16 in an int32
  __m512i lo[R], hi[R];
  for (int r = 0; r < R; ++r) {
    lo[r] = _mm512_setzero_si512();
    hi[r] = _mm512_setzero_si512();
  }
  const __mmask32 m = ncols >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << ncols) - 1u);
  const __m256i z = _mm256_setzero_si256();
  for (int k = 0; k < K; k += 2) {
    const __m512i w0 = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, B + (int64_t)k * ldb + n));
    const __m512i w1 = k + 1 < K
                           ? _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, B + (int64_t)(k + 1) * ldb + n))
                           : _mm512_cvtepi8_epi16(z);
    const __m512i wl = _mm512_unpacklo_epi16(w0, w1), wh = _mm512_unpackhi_epi16(w0, w1);
    for (int r = 0; r < R; ++r) {
      const __m512i a = _mm512_set1_epi32(Ap[r * apld + k / 2]);
      lo[r] = _mm512_add_epi32(lo[r], _mm512_madd_epi16(wl, a));
      hi[r] = _mm512_add_epi32(hi[r], _mm512_madd_epi16(wh, a));
    }
  }
  // lane j of lo holds column 8*(j/4) + j%4, of hi column 8*(j/4) + 4 + j%4
  alignas(64) int32_t t[32];
  for (int r = 0; r < R; ++r) {
    _mm512_store_si512((__m512i*)t, lo[r]);
    _mm512_store_si512((__m512i*)(t + 16), hi[r]);
    int32_t* p = P + r * ldp + n;
    for (int j = 0; j < 16; ++j) {
      const int c0 = 8 * (j / 4) + j % 4, c1 = c0 + 4;
      if (c0 < ncols) p[c0] = t[j];
      if (c1 < ncols) p[c1] = t[16 + j];
    }
  }
}

static void i8_cols(int M, int K, const int8_t* A, int64_t as0, int64_t as1, const int8_t* B, int64_t ldb,
                    int32_t* P, int64_t ldp, int64_t c0, int64_t c1) {
  const int KP = (K + 1) / 2;
  static thread_local std::vector<int32_t> pairs;
  if ((int64_t)pairs.size() < (int64_t)M * KP) pairs.resize((size_t)M * KP);
  for (int i = 0; i < M; ++i)
    for (int k = 0; k < K; k += 2) {
      const uint32_t a0 = (uint16_t)(int16_t)A[i * as0 + k * as1],
                     a1 = k + 1 < K ? (uint16_t)(int16_t)A[i * as0 + (k + 1) * as1] : 0u;
      pairs[(size_t)i * KP + k / 2] = (int32_t)(a0 | (a1 << 16));
    }
  const int32_t* ap = pairs.data();
  for (int64_t n = c0; n < c1; n += 32) {
    const int nc = (int)std::min<int64_t>(32, c1 - n);
    int i = 0;
    for (; i + 4 <= M; i += 4)
      i8_tile<4>(K, ap + (size_t)i * KP, KP, B, ldb, n, nc, P + (int64_t)i * ldp, ldp);
    switch (M - i) {
      case 3: i8_tile<3>(K, ap + (size_t)i * KP, KP, B, ldb, n, nc, P + (int64_t)i * ldp, ldp); break;
      case 2: i8_tile<2>(K, ap + (size_t)i * KP, KP, B, ldb, n, nc, P + (int64_t)i * ldp, ldp); break;
      case 1: i8_tile<1>(K, ap + (size_t)i * KP, KP, B, ldb, n, nc, P + (int64_t)i * ldp, ldp); break;
      default: break;
    }
  }
}

// One row of A (decode): P{N} = a·B. Walking B column tile by column tile over all K rows (i8_cols)
// reads 32 bytes per row at a stride of N bytes, a new page every row or two, which the hardware
// prefetcher does not follow (2.7 GB/s measured). Instead B is streamed row pair by row pair, whole
// rows, into an int32 accumulator row in L1 kept in vpunpck order; threads take 64-row chunks and
// keep their own accumulators, summed at the end (int32 adds wrap, so any split is bitwise the same).
constexpr int I8_VEC_COLS = 32; // columns per step; the accumulator row is padded to a multiple
/** Where column n sits in the accumulator row: lane j of lo (n%8 < 4) or hi, n%32 = 8*(j/4) + j%4 (+4). */
static inline int i8_acc_index(int n) {
  const int t = n & ~31, c = n & 31;
  return t + 4 * (c / 8) + c % 4 + (c % 8 >= 4 ? 16 : 0);
}
static void i8_vec_rows(int K, const int32_t* ap, const int8_t* B, int64_t ldb, int N, int32_t* acc, int k0,
                        int k1) {
  const int NF = N & ~31;
  const __mmask32 tm = (N & 31) ? (__mmask32)((1u << (N & 31)) - 1u) : (__mmask32)0;
  const __m256i z = _mm256_setzero_si256();
  for (int k = k0; k < k1; k += 2) {
    const __m512i a = _mm512_set1_epi32(ap[k / 2]);
    const int8_t* b0 = B + (int64_t)k * ldb;
    const int8_t* b1 = b0 + ldb;
    const bool two = k + 1 < K;
    int n = 0;
    for (; n < NF; n += 32) {
      const __m512i w0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i*)(b0 + n)));
      const __m512i w1 = _mm512_cvtepi8_epi16(two ? _mm256_loadu_si256((const __m256i*)(b1 + n)) : z);
      __m512i* q = (__m512i*)(acc + n);
      q[0] = _mm512_add_epi32(q[0], _mm512_madd_epi16(_mm512_unpacklo_epi16(w0, w1), a));
      q[1] = _mm512_add_epi32(q[1], _mm512_madd_epi16(_mm512_unpackhi_epi16(w0, w1), a));
    }
    if (tm) {
      const __m512i w0 = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(tm, b0 + n));
      const __m512i w1 = _mm512_cvtepi8_epi16(two ? _mm256_maskz_loadu_epi8(tm, b1 + n) : z);
      __m512i* q = (__m512i*)(acc + n);
      q[0] = _mm512_add_epi32(q[0], _mm512_madd_epi16(_mm512_unpacklo_epi16(w0, w1), a));
      q[1] = _mm512_add_epi32(q[1], _mm512_madd_epi16(_mm512_unpackhi_epi16(w0, w1), a));
    }
  }
}

#elif TC_I8 == 8
// One row of A (decode), AVX2: B streamed whole rows at a time into an int32 accumulator row per
// chunk. The rows multiplied together by one pair product need not be neighbours (int32 sums are
// exact in any order), so each pass takes one row from each quarter of the chunk: pairs (q0, q1) and
// (q2, q3), four long sequential streams (four neighbouring rows are four short streams that jump
// every row, which the prefetcher loses on 768-byte rows). Interleaving the bytes of the two rows of a
// pair before sign-extending keeps the columns in their natural order.
constexpr int I8_VEC_COLS = 16;
static inline int i8_acc_index(int n) { return n; }
/** acc += a0·b0 + a1·b1 for one pair of weight rows (pair = (a0, a1) as int16 halves; b1 null: a single row). */
static inline void i8_pair_rows(int32_t pair, const int8_t* b0, const int8_t* b1, int N, int32_t* acc) {
  const int NF = N & ~15;
  const __m256i a = _mm256_set1_epi32(pair);
  const __m128i z = _mm_setzero_si128();
  for (int n = 0; n < NF; n += 16) {
    const __m128i x0 = _mm_loadu_si128((const __m128i*)(b0 + n));
    const __m128i x1 = b1 ? _mm_loadu_si128((const __m128i*)(b1 + n)) : z;
    __m256i* q = (__m256i*)(acc + n);
    q[0] = vi_dot2(q[0], _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(x0, x1)), a);
    q[1] = vi_dot2(q[1], _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(x0, x1)), a);
  }
  const uint32_t a0 = (uint32_t)(int32_t)(int16_t)(pair & 0xffff), a1 = (uint32_t)(int32_t)(int16_t)(pair >> 16);
  for (int n = NF; n < N; ++n)
    acc[n] = (int32_t)((uint32_t)acc[n] + a0 * (uint32_t)(int32_t)b0[n] + (b1 ? a1 * (uint32_t)(int32_t)b1[n] : 0u));
}
static void i8_vec_rows(const int8_t* A, int64_t as1, const int8_t* B, int64_t ldb, int N, int32_t* acc, int k0,
                        int k1) {
  const int NF = N & ~15;
  const int Q = (k1 - k0) / 4;
  for (int i = 0; i < Q; ++i) {
    const int k = k0 + i;
    const int8_t* b0 = B + (int64_t)k * ldb;
    const int8_t *b1 = b0 + (int64_t)Q * ldb, *b2 = b1 + (int64_t)Q * ldb, *b3 = b2 + (int64_t)Q * ldb;
    const __m256i a01 = _mm256_set1_epi32(i8_pair(A[k * as1], A[(k + Q) * as1])),
                  a23 = _mm256_set1_epi32(i8_pair(A[(k + 2 * Q) * as1], A[(k + 3 * Q) * as1]));
    for (int n = 0; n < NF; n += 16) {
      const __m128i x0 = _mm_loadu_si128((const __m128i*)(b0 + n)), x1 = _mm_loadu_si128((const __m128i*)(b1 + n));
      const __m128i x2 = _mm_loadu_si128((const __m128i*)(b2 + n)), x3 = _mm_loadu_si128((const __m128i*)(b3 + n));
      __m256i* q = (__m256i*)(acc + n);
      __m256i lo = vi_dot2(q[0], _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(x0, x1)), a01);
      __m256i hi = vi_dot2(q[1], _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(x0, x1)), a01);
      q[0] = vi_dot2(lo, _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(x2, x3)), a23);
      q[1] = vi_dot2(hi, _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(x2, x3)), a23);
    }
    for (int n = NF; n < N; ++n) {
      uint32_t t = (uint32_t)acc[n];
      for (int j = 0; j < 4; ++j)
        t += (uint32_t)(int32_t)A[(k + j * Q) * as1] * (uint32_t)(int32_t)B[(int64_t)(k + j * Q) * ldb + n];
      acc[n] = (int32_t)t;
    }
  }
  // the rows left over (fewer than four), in pairs of neighbours, the last one alone
  for (int k = k0 + 4 * Q; k < k1; k += 2) {
    const bool two = k + 1 < k1;
    i8_pair_rows(i8_pair(A[k * as1], two ? A[(k + 1) * as1] : 0), B + (int64_t)k * ldb,
                 two ? B + (int64_t)(k + 1) * ldb : nullptr, N, acc);
  }
}
#endif

#if TC_I8 != 16
// few rows (and every int8 product without AVX2 or AVX-512BW)
static void i8_cols(int M, int K, const int8_t* A, int64_t as0, int64_t as1, const int8_t* B, int64_t ldb,
                    int32_t* P, int64_t ldp, int64_t c0, int64_t c1) {
  // portable: row-streaming loops with wrapping uint32 sums (vectorized by the compiler)
  for (int i = 0; i < M; ++i) {
    uint32_t* p = (uint32_t*)(P + (int64_t)i * ldp);
    for (int64_t n = c0; n < c1; ++n) p[n] = 0;
    for (int k = 0; k < K; ++k) {
      const uint32_t a = (uint32_t)(int32_t)A[i * as0 + k * as1];
      const int8_t* b = B + (int64_t)k * ldb;
      for (int64_t n = c0; n < c1; ++n) p[n] += a * (uint32_t)(int32_t)b[n];
    }
  }
}
#endif

#if TC_I8 == 16
/**
 * A one-row int8 product's threads: 64-row chunks of B, each run by rows(acc, k0, k1) into its slot's
 * accumulator row (NP wide, in the order index(n) gives), summed at the end (int32 adds wrap, so any
 * split is bitwise the same): P[n] = Σ acc[index(n)] − corr.
 */
template <class Index, class Rows>
static void i8_vec_chunks(int K, int N, int NP, uint32_t corr, int32_t* P, Index&& index, Rows&& rows) {
  const int KC = 64;
  const int64_t nblk = (K + KC - 1) / KC;
  const int nt = fast_threads((double)K * N, nblk);
  static thread_local std::vector<int32_t> buf;
  int32_t* const accs = tls_aligned(buf, (int64_t)nt * NP);
  std::memset(accs, 0, sizeof(int32_t) * (size_t)nt * NP);
  run_chunks(nblk, nt, [&](int64_t b, int slot) {
    rows(accs + (int64_t)slot * NP, (int)(b * KC), (int)std::min<int64_t>(K, (b + 1) * KC));
  });
  for (int n = 0; n < N; ++n) {
    const int j = index(n);
    uint32_t s = 0;
    for (int th = 0; th < nt; ++th) s += (uint32_t)accs[(int64_t)th * NP + j];
    P[n] = (int32_t)(s - corr);
  }
}
#endif

#if TC_I8 == 8
static void i8_vec(int K, const int8_t* A, int64_t as1, const int8_t* B, int64_t ldb, int N, int32_t* P) {
  // one chunk of rows per thread, each into its own accumulator row (summed at the end; exact)
  const int NP = (N + I8_VEC_COLS - 1) / I8_VEC_COLS * I8_VEC_COLS;
  const int nt = fast_threads((double)K * N, K / 64);
  static thread_local std::vector<int32_t> buf;
  int32_t* const accs = tls_aligned(buf, (int64_t)nt * NP);
  std::memset(accs, 0, sizeof(int32_t) * (size_t)nt * NP);
  on_threads(nt, [&](int t, int T) {
    i8_vec_rows(A, as1, B, ldb, N, accs + (int64_t)t * NP, (int)((int64_t)K * t / T), (int)((int64_t)K * (t + 1) / T));
  });
  for (int n = 0; n < N; ++n) {
    uint32_t s = 0;
    for (int th = 0; th < nt; ++th) s += (uint32_t)accs[(int64_t)th * NP + n];
    P[n] = (int32_t)s;
  }
}
#elif TC_I8 == 16 && defined(__AVX512VNNI__)
// One row of A (decode) with AVX512-VNNI: vpdpbusd takes four k at once, so B is streamed four rows at
// a time, whole rows, their bytes interleaved per column (unpack 8, then 16: lane j of o_t holds
// (b[k][c], b[k+1][c], b[k+2][c], b[k+3][c]) for column c = 16·(j/4) + 4t + j%4 of a 64-column
// group); B's bytes are made unsigned by flipping their sign bit and 128·Σa comes off at the end
// (mv_i8_rows_vnni). Threads take 64-row chunks into their own accumulator rows, summed at the end.
static inline int i8q_acc_index(int n) {
  const int c = n & 63;
  return (n & ~63) + 16 * ((c & 15) / 4) + 4 * (c / 16) + (c & 3);
}
static void i8_vec_rows_vnni(int K, const int32_t* quads, const int8_t* B, int64_t ldb, int N, int32_t* acc, int k0,
                             int k1) {
  const int NF = N & ~63;
  const __mmask64 tm = (N & 63) ? (((__mmask64)1 << (N & 63)) - 1) : (__mmask64)0;
  const __m512i flip = _mm512_set1_epi8((char)0x80);
  for (int k = k0; k < k1; k += 4) {
    const __m512i a = _mm512_set1_epi32(quads[k / 4]);
    const int8_t* r[4];
    for (int t = 0; t < 4; ++t) r[t] = k + t < K ? B + (int64_t)(k + t) * ldb : nullptr;
    auto step = [&](int n, __mmask64 m) {
      __m512i x[4];
      for (int t = 0; t < 4; ++t) x[t] = r[t] ? _mm512_maskz_loadu_epi8(m, r[t] + n) : _mm512_setzero_si512();
      const __m512i lo01 = _mm512_unpacklo_epi8(x[0], x[1]), hi01 = _mm512_unpackhi_epi8(x[0], x[1]);
      const __m512i lo23 = _mm512_unpacklo_epi8(x[2], x[3]), hi23 = _mm512_unpackhi_epi8(x[2], x[3]);
      __m512i* q = (__m512i*)(acc + n);
      q[0] = _mm512_dpbusd_epi32(q[0], _mm512_xor_si512(_mm512_unpacklo_epi16(lo01, lo23), flip), a);
      q[1] = _mm512_dpbusd_epi32(q[1], _mm512_xor_si512(_mm512_unpackhi_epi16(lo01, lo23), flip), a);
      q[2] = _mm512_dpbusd_epi32(q[2], _mm512_xor_si512(_mm512_unpacklo_epi16(hi01, hi23), flip), a);
      q[3] = _mm512_dpbusd_epi32(q[3], _mm512_xor_si512(_mm512_unpackhi_epi16(hi01, hi23), flip), a);
    };
    int n = 0;
    for (; n < NF; n += 64) step(n, ~(__mmask64)0);
    if (tm) step(n, tm);
  }
}
static void i8_vec(int K, const int8_t* A, int64_t as1, const int8_t* B, int64_t ldb, int N, int32_t* P) {
  const int KQ = (K + 3) / 4, NP = (N + 63) / 64 * 64;
  std::vector<int32_t> quads((size_t)KQ);
  uint32_t sum = 0;
  for (int q = 0; q < KQ; ++q) {
    uint32_t v = 0;
    for (int t = 0; t < 4; ++t) {
      const int k = 4 * q + t;
      const int8_t a = k < K ? A[k * as1] : 0;
      v |= (uint32_t)(uint8_t)a << (8 * t);
      sum += (uint32_t)(int32_t)a;
    }
    quads[(size_t)q] = (int32_t)v;
  }
  i8_vec_chunks(K, N, NP, sum * 128u, P, i8q_acc_index, [&](int32_t* acc, int k0, int k1) {
    i8_vec_rows_vnni(K, quads.data(), B, ldb, N, acc, k0, k1);
  });
}
#elif TC_I8 == 16
static void i8_vec(int K, const int8_t* A, int64_t as1, const int8_t* B, int64_t ldb, int N, int32_t* P) {
  const int KP = (K + 1) / 2, NP = (N + I8_VEC_COLS - 1) / I8_VEC_COLS * I8_VEC_COLS;
  std::vector<int32_t> pairs((size_t)KP);
  for (int k = 0; k < K; k += 2) pairs[(size_t)(k / 2)] = i8_pair(A[k * as1], k + 1 < K ? A[(k + 1) * as1] : 0);
  i8_vec_chunks(K, N, NP, 0u, P, i8_acc_index, [&](int32_t* acc, int k0, int k1) {
    i8_vec_rows(K, pairs.data(), B, ldb, N, acc, k0, k1);
  });
}

#endif

#if TC_I8
// Many rows (int8 prefill): the f32 packed product's plan with pair products. A is packed once into
// pairs per k-block of MR-row groups; each thread packs its column chunk of B per k-block into
// NB-column panels whose int32 lanes hold (b[k][n], b[k+1][n]); an MR × NB int32 register tile
// (AVX-512 8 × 48, AVX2 4 × 16) then does one pair product per vector, row and k-pair. (AVX2 without
// VNNI needs a register for each product before its add: at 6 rows GCC spilled the accumulators to
// the stack, 45 GOP/s on one core against 53–59 at 4.)
constexpr int I8_MR = TC_I8 == 16 ? 8 : 4, I8_NV = GP_NV, I8_NB = I8_NV * TC_I8,
              I8_KP = 64; // 64 pairs = 128 k per block

// (FULL as gp_tile's)
template <int R, bool FULL>
static inline void i8p_tile(int kp, const int32_t* Ap, const int32_t* pan, int32_t* P, int64_t ldp,
                            bool first, const tc_mask* mk) {
  tc_vi acc[R][I8_NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < I8_NV; ++v)
      acc[r][v] = first ? vi_zero() : FULL ? vi_ldu(P + r * ldp + v * TC_I8) : vi_ldm(P + r * ldp + v * TC_I8, mk[v]);
  for (int q = 0; q < kp; ++q) {
    tc_vi b[I8_NV];
    for (int v = 0; v < I8_NV; ++v) b[v] = vi_lda(pan + q * I8_NB + v * TC_I8);
    for (int r = 0; r < R; ++r) {
      const tc_vi a = vi_set1(Ap[q * R + r]);
      for (int v = 0; v < I8_NV; ++v) acc[r][v] = vi_dot2(acc[r][v], a, b[v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < I8_NV; ++v) {
      if constexpr (FULL) vi_stu(P + r * ldp + v * TC_I8, acc[r][v]);
      else vi_stm(P + r * ldp + v * TC_I8, mk[v], acc[r][v]);
    }
}

static void i8_packed(int M, int K, int N, const int8_t* A, int64_t as0, int64_t as1, const int8_t* B,
                      int64_t ldb, int32_t* P) {
  const int KP = (K + 1) / 2;
  static thread_local std::vector<int32_t> apk;
  const int32_t* ap = pack_rows<I8_MR>(apk, M, KP, I8_KP, [&](int i, int q) {
    const int k = 2 * q;
    return i8_pair(A[i * as0 + k * as1], k + 1 < K ? A[i * as0 + (k + 1) * as1] : 0);
  });
  static thread_local std::vector<int32_t> pan_tls;
  over_column_chunks((double)M * K * N, N, I8_NB, [&](int64_t n0, int nc) {
    int32_t* const pan = tls_aligned(pan_tls, (int64_t)I8_KP * (nc + I8_NB));
    const int np = (nc + I8_NB - 1) / I8_NB;
    for (int q0 = 0; q0 < KP; q0 += I8_KP) {
      const int kp = std::min(I8_KP, KP - q0);
      for (int q = 0; q < kp; ++q) {
        const int k = 2 * (q0 + q);
        const int8_t* r0 = B + (int64_t)k * ldb + n0;
        const int8_t* r1 = k + 1 < K ? r0 + ldb : nullptr;
        for (int n = 0; n < np * I8_NB; n += TC_I8) {
          const int cols = std::max(0, std::min(TC_I8, nc - n));
          const tc_vi v = cols ? vi_pairs(r0 + n, r1 ? r1 + n : nullptr, cols) : vi_zero();
          std::memcpy(pan + (n / I8_NB) * kp * I8_NB + q * I8_NB + n % I8_NB, &v, sizeof v);
        }
      }
      for (int p = 0; p < np; ++p) {
        tc_mask mk[I8_NV];
        panel_masks<I8_NV, TC_I8>(nc - p * I8_NB, mk, vmask);
        const bool full = nc - p * I8_NB >= I8_NB;
        for (int i0 = 0; i0 < M; i0 += I8_MR)
          with_rows<I8_MR>(std::min(I8_MR, M - i0), [&](auto R) {
            constexpr int RR = decltype(R)::value;
            const int32_t* const a = ap + (int64_t)q0 * M + (int64_t)i0 * kp;
            const int32_t* const b = pan + (int64_t)p * kp * I8_NB;
            int32_t* const c = P + (int64_t)i0 * N + n0 + p * I8_NB;
            if (full) i8p_tile<RR, true>(kp, a, b, c, N, q0 == 0, mk);
            else i8p_tile<RR, false>(kp, a, b, c, N, q0 == 0, mk);
          });
      }
    }
  });
}
#endif

// Many rows on AMX (Sapphire Rapids and later): TDPBSSD multiplies a 16-row × 64 int8 tile of A by a
// 64 × 16 tile of B (stored as 16 rows of 4 k × 16 columns, "VNNI order") into a 16 × 16 int32 tile,
// 16384 multiply-adds per instruction against 32 for a 512-bit vpdpwssd. Its int32 adds wrap, as the
// interpreter's, so the product is bitwise the same in any order. A is copied once into rows of K
// rounded up to 64 (zeros past K); each thread packs 256-column strips of B, all of K, into VNNI
// order and runs 32 × 32 blocks of C (tiles 0-3) from two A tiles (4, 5) and two B tiles (6, 7).
#if TC_AMX
constexpr int AMX_STRIP = 256; // columns of B a thread packs at a time (16 panels; K × 256 bytes)
/**
 * Columns n .. n+cols (cols ≤ AMX_STRIP) of B, all of K, in VNNI order: panel p (16 columns) holds
 * pan[p·KP·16 + q·64 + 4c + j] = B[4q + j][n + 16p + c], zeros past K and past cols. Four rows are read
 * 64 columns at a time; bytes are interleaved within 128-bit lanes (unpack), then the four lanes
 * transposed (shuffle_i64x2), each lane one panel's row.
 */
static void amx_pack_strip(const int8_t* B, int64_t ldb, int K, int KP, int64_t n, int cols, int8_t* pan) {
  for (int q = 0; q < KP / 4; ++q) // four rows read across the strip in one run each
    for (int g = 0; g * 64 < cols; ++g) {
      const int left = cols - 64 * g;
      const __mmask64 m = left >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1);
      __m512i x[4];
      for (int j = 0; j < 4; ++j) {
        const int k = 4 * q + j;
        x[j] = k < K ? _mm512_maskz_loadu_epi8(m, B + (int64_t)k * ldb + n + 64 * g) : _mm512_setzero_si512();
      }
      const __m512i a = _mm512_unpacklo_epi8(x[0], x[1]), b = _mm512_unpackhi_epi8(x[0], x[1]);
      const __m512i e = _mm512_unpacklo_epi8(x[2], x[3]), f = _mm512_unpackhi_epi8(x[2], x[3]);
      // lane l of o0..o3: columns 16l + 0..3, 4..7, 8..11, 12..15, four k each
      const __m512i o0 = _mm512_unpacklo_epi16(a, e), o1 = _mm512_unpackhi_epi16(a, e);
      const __m512i o2 = _mm512_unpacklo_epi16(b, f), o3 = _mm512_unpackhi_epi16(b, f);
      const __m512i t0 = _mm512_shuffle_i64x2(o0, o1, 0x44), t1 = _mm512_shuffle_i64x2(o0, o1, 0xEE);
      const __m512i t2 = _mm512_shuffle_i64x2(o2, o3, 0x44), t3 = _mm512_shuffle_i64x2(o2, o3, 0xEE);
      int8_t* out = pan + (int64_t)(4 * g) * KP * 16 + (int64_t)q * 64;
      const int64_t ps = (int64_t)KP * 16;
      _mm512_store_si512((void*)out, _mm512_shuffle_i64x2(t0, t2, 0x88));
      _mm512_store_si512((void*)(out + ps), _mm512_shuffle_i64x2(t0, t2, 0xDD));
      _mm512_store_si512((void*)(out + 2 * ps), _mm512_shuffle_i64x2(t1, t3, 0x88));
      _mm512_store_si512((void*)(out + 3 * ps), _mm512_shuffle_i64x2(t1, t3, 0xDD));
    }
}
static void i8_amx(int M, int K, int N, const int8_t* A, int64_t as0, int64_t as1, const int8_t* B, int64_t ldb,
                   int32_t* P) {
  const int KP = (K + 63) / 64 * 64, MP = (M + 31) / 32 * 32;
  static thread_local std::vector<int8_t> abuf;
  int8_t* const ap = tls_aligned(abuf, (int64_t)MP * KP);
  for (int i = 0; i < MP; ++i) {
    int8_t* d = ap + (int64_t)i * KP;
    int k = 0;
    if (i < M) {
      if (as1 == 1) {
        std::memcpy(d, A + (int64_t)i * as0, (size_t)K);
        k = K;
      } else
        for (; k < K; ++k) d[k] = A[(int64_t)i * as0 + (int64_t)k * as1];
    }
    std::memset(d + k, 0, (size_t)(KP - k));
  }
  static thread_local std::vector<int8_t> pan_tls;
  over_column_chunks((double)M * K * N, N, 32, [&](int64_t n0, int nc) {
    int8_t* const pan = tls_aligned(pan_tls, (int64_t)KP * AMX_STRIP);
    alignas(64) int32_t part[32 * 32];
    amx_configure();
    for (int64_t s0 = n0; s0 < n0 + nc; s0 += AMX_STRIP) {
      const int scols = (int)std::min<int64_t>(AMX_STRIP, n0 + nc - s0);
      amx_pack_strip(B, ldb, K, KP, s0, scols, pan);
      for (int p = 0; 16 * p < scols; p += 2) {
        const int64_t n = s0 + 16 * p;
        const int cols = std::min(32, scols - 16 * p);
        const int8_t* const b0 = pan + (int64_t)p * KP * 16;
        const int8_t* const b1 = b0 + (int64_t)KP * 16; // zeros when only 16 columns are left
        for (int i0 = 0; i0 < M; i0 += 32) {
          _tile_zero(0);
          _tile_zero(1);
          _tile_zero(2);
          _tile_zero(3);
          const int8_t* a0 = ap + (int64_t)i0 * KP;
          const int8_t* a1 = a0 + (int64_t)16 * KP;
          for (int k0 = 0; k0 < KP; k0 += 64) {
            _tile_loadd(4, a0 + k0, KP);
            _tile_loadd(5, a1 + k0, KP);
            _tile_loadd(6, b0 + (int64_t)k0 * 16, 64);
            _tile_loadd(7, b1 + (int64_t)k0 * 16, 64);
            _tile_dpbssd(0, 4, 6);
            _tile_dpbssd(1, 4, 7);
            _tile_dpbssd(2, 5, 6);
            _tile_dpbssd(3, 5, 7);
          }
          const int rows = std::min(32, M - i0);
          if (rows == 32 && cols == 32) { // the whole block is real: straight into P
            int32_t* c = P + (int64_t)i0 * N + n;
            const int64_t ld = (int64_t)N * 4;
            _tile_stored(0, c, ld);
            _tile_stored(1, c + 16, ld);
            _tile_stored(2, c + (int64_t)16 * N, ld);
            _tile_stored(3, c + (int64_t)16 * N + 16, ld);
          } else {
            _tile_stored(0, part, 128);
            _tile_stored(1, part + 16, 128);
            _tile_stored(2, part + 16 * 32, 128);
            _tile_stored(3, part + 16 * 32 + 16, 128);
            for (int r = 0; r < rows; ++r)
              std::memcpy(P + (int64_t)(i0 + r) * N + n, part + r * 32, sizeof(int32_t) * (size_t)cols);
          }
        }
      }
    }
    _tile_release();
  });
}
#endif

void mm_i8(int M, int K, int N, const int8_t* A, int64_t as0, int64_t as1, const int8_t* B, int64_t ldb,
           int32_t* P) {
#if TC_I8
#if TC_AMX
  if (M > 4 && K > 0 && N > 0 && amx_ready()) { // from 5 rows, faster than the vector path at every size measured
    i8_amx(M, K, N, A, as0, as1, B, ldb, P);
    return;
  }
#endif
  if (M == 1 && K > 0) {
    i8_vec(K, A, as1, B, ldb, N, P);
    return;
  }
  if (M > 4 && K > 0 && (double)M * K * N >= 1 << 18) {
    i8_packed(M, K, N, A, as0, as1, B, ldb, P);
    return;
  }
#endif
  const int64_t nblk = (N + 63) / 64;
  const int nt = fast_threads((double)M * K * N, nblk);
  run_chunks(nblk, nt, [&](int64_t b, int slot) {
    (void)slot;
    i8_cols(M, K, A, as0, as1, B, ldb, P, N, b * 64, std::min<int64_t>(N, (b + 1) * 64));
  });
}

// ---- int8 {M,K} · int8 {K} → int32 with A's rows contiguous (the int8 LM head) ----
// x widened once to int16 (zero-padded to 32), each piece of a row sign-extended to int16 and
// multiplied pairwise (vpmaddwd) into int32 lanes, four rows at a time (AVX2: one from each quarter
// of the block, so that each is a long sequential stream).
#if TC_I8 == 16
/**
 * P[i] = out(Σ over A's row i) for rows [r0, r1), four rows at a time: the AVX-512 LM head's walk, with
 * `dot(s, row, k)` adding the piece of a row at k (`step` bytes) and `tail(s, row, k)` the masked
 * last piece (when K is not a multiple of step).
 */
template <class Dot, class Tail, class Out>
static inline void i8_rows4(int K, int step, const int8_t* A, int64_t lda, int32_t* P, int64_t r0, int64_t r1,
                            Dot&& dot, Tail&& tail, Out&& out) {
  const int KF = K / step * step;
  const bool more = KF < K;
  int64_t i = r0;
  for (; i + 4 <= r1; i += 4) {
    const int8_t* a0 = A + i * lda;
    const int8_t *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
    __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
    int k = 0;
    for (; k < KF; k += step) {
      s0 = dot(s0, a0, k);
      s1 = dot(s1, a1, k);
      s2 = dot(s2, a2, k);
      s3 = dot(s3, a3, k);
    }
    if (more) {
      s0 = tail(s0, a0, k);
      s1 = tail(s1, a1, k);
      s2 = tail(s2, a2, k);
      s3 = tail(s3, a3, k);
    }
    P[i] = out(s0);
    P[i + 1] = out(s1);
    P[i + 2] = out(s2);
    P[i + 3] = out(s3);
  }
  for (; i < r1; ++i) {
    const int8_t* a0 = A + i * lda;
    __m512i s0 = _mm512_setzero_si512();
    int k = 0;
    for (; k < KF; k += step) s0 = dot(s0, a0, k);
    if (more) s0 = tail(s0, a0, k);
    P[i] = out(s0);
  }
}
#endif

static void mv_i8_rows(int K, const int8_t* A, int64_t lda, const int16_t* xw, int32_t* P, int64_t r0,
                       int64_t r1) {
#if TC_I8 == 16
  const __mmask32 tm = (K & 31) ? (__mmask32)((1u << (K & 31)) - 1u) : (__mmask32)0;
  i8_rows4(
      K, 32, A, lda, P, r0, r1,
      [&](__m512i s, const int8_t* a, int k) {
        return _mm512_add_epi32(s, _mm512_madd_epi16(_mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i*)(a + k))),
                                                     _mm512_loadu_si512((const void*)(xw + k))));
      },
      [&](__m512i s, const int8_t* a, int k) {
        return _mm512_add_epi32(s, _mm512_madd_epi16(_mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(tm, a + k)),
                                                     _mm512_loadu_si512((const void*)(xw + k))));
      },
      [](__m512i s) { return (int32_t)_mm512_reduce_add_epi32(s); });
#elif TC_I8 == 8
  const int KF = K & ~15;
  auto hsum = [](__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return (uint32_t)_mm_cvtsi128_si32(s);
  };
  auto tail = [&](const int8_t* a) {
    uint32_t t = 0;
    for (int k = KF; k < K; ++k) t += (uint32_t)(int32_t)a[k] * (uint32_t)(int32_t)xw[k];
    return t;
  };
  auto row = [&](const int8_t* a, int k) { return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(a + k))); };
  // four rows per pass, one from each quarter of the block (four long sequential streams; four
  // neighbouring rows are short streams that jump every row), x loaded once for the four
  const int64_t Q = (r1 - r0) / 4;
  for (int64_t j = 0; j < Q; ++j) {
    const int8_t* a0 = A + (r0 + j) * lda;
    const int8_t *a1 = a0 + Q * lda, *a2 = a1 + Q * lda, *a3 = a2 + Q * lda;
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    for (int k = 0; k < KF; k += 16) {
      const __m256i xv = _mm256_loadu_si256((const __m256i*)(xw + k));
      s0 = vi_dot2(s0, row(a0, k), xv);
      s1 = vi_dot2(s1, row(a1, k), xv);
      s2 = vi_dot2(s2, row(a2, k), xv);
      s3 = vi_dot2(s3, row(a3, k), xv);
    }
    P[r0 + j] = (int32_t)(hsum(s0) + tail(a0));
    P[r0 + j + Q] = (int32_t)(hsum(s1) + tail(a1));
    P[r0 + j + 2 * Q] = (int32_t)(hsum(s2) + tail(a2));
    P[r0 + j + 3 * Q] = (int32_t)(hsum(s3) + tail(a3));
  }
  for (int64_t i = r0 + 4 * Q; i < r1; ++i) {
    const int8_t* a0 = A + i * lda;
    __m256i s0 = _mm256_setzero_si256();
    for (int k = 0; k < KF; k += 16) s0 = vi_dot2(s0, row(a0, k), _mm256_loadu_si256((const __m256i*)(xw + k)));
    P[i] = (int32_t)(hsum(s0) + tail(a0));
  }
#else
  // portable: wrapping uint32 dot products (vectorized by the compiler)
  for (int64_t i = r0; i < r1; ++i) {
    const int8_t* a = A + i * lda;
    uint32_t s = 0;
    for (int k = 0; k < K; ++k) s += (uint32_t)(int32_t)a[k] * (uint32_t)(int32_t)xw[k];
    P[i] = (int32_t)s;
  }
#endif
}

#if TC_I8 == 16 && defined(__AVX512VNNI__)
// With AVX512-VNNI: vpdpbusd multiplies 4 unsigned bytes by 4 signed bytes per int32 lane and adds the
// four products (no saturation), 64 bytes of a row per instruction against 32 widened to int16. A's
// bytes are made unsigned by flipping their sign bit (a + 128), x stays signed, and 128·Σx comes off
// at the end: Σ(a + 128)·x − 128·Σx = Σ a·x, exact in wrapping int32 like every int8 product here.
// Bytes past K load as 0, flip to 128, and meet x's zero padding.
static void mv_i8_rows_vnni(int K, const int8_t* A, int64_t lda, const int8_t* xb, uint32_t corr, int32_t* P,
                            int64_t r0, int64_t r1) {
  const __mmask64 tm = (K & 63) ? (((__mmask64)1 << (K & 63)) - 1) : (__mmask64)0;
  const __m512i flip = _mm512_set1_epi8((char)0x80);
  i8_rows4(
      K, 64, A, lda, P, r0, r1,
      [&](__m512i s, const int8_t* a, int k) {
        return _mm512_dpbusd_epi32(s, _mm512_xor_si512(_mm512_loadu_si512((const void*)(a + k)), flip),
                                   _mm512_loadu_si512((const void*)(xb + k)));
      },
      [&](__m512i s, const int8_t* a, int k) {
        return _mm512_dpbusd_epi32(s, _mm512_xor_si512(_mm512_maskz_loadu_epi8(tm, a + k), flip),
                                   _mm512_loadu_si512((const void*)(xb + k)));
      },
      [&](__m512i s) { return (int32_t)((uint32_t)_mm512_reduce_add_epi32(s) - corr); });
}
#endif

void mv_i8(int M, int K, const int8_t* A, int64_t lda, const int8_t* x, int64_t xs, int32_t* P) {
  const int64_t blk = 256;
  const int64_t nblk = (M + blk - 1) / blk;
  const int nt = fast_threads((double)M * K, nblk);
#if TC_I8 == 16 && defined(__AVX512VNNI__)
  std::vector<int8_t> xb((size_t)((K + 63) / 64 * 64), 0);
  uint32_t sum = 0;
  for (int k = 0; k < K; ++k) {
    xb[(size_t)k] = x[k * xs];
    sum += (uint32_t)(int32_t)x[k * xs];
  }
  run_chunks(nblk, nt, [&](int64_t b, int) {
    mv_i8_rows_vnni(K, A, lda, xb.data(), sum * 128u, P, b * blk, std::min<int64_t>(M, (b + 1) * blk));
  });
  return;
#endif
  std::vector<int16_t> xw((size_t)((K + 31) / 32 * 32 + 32), 0);
  for (int k = 0; k < K; ++k) xw[(size_t)k] = x[k * xs];
  run_chunks(nblk, nt, [&](int64_t b, int slot) {
    (void)slot;
    mv_i8_rows(K, A, lda, xw.data(), P, b * blk, std::min<int64_t>(M, (b + 1) * blk));
  });
}

const char* int8_path() {
#if TC_AMX
  if (amx_ready()) return "amx";
#endif
#if TC_I8 == 16 && defined(__AVX512VNNI__)
  return "avx512-vnni";
#elif TC_I8 == 16
  return "avx512";
#elif TC_I8 == 8 && (defined(__AVXVNNI__) || (defined(__AVX512VNNI__) && defined(__AVX512VL__)))
  return "avx2-vnni";
#elif TC_I8 == 8
  return "avx2";
#else
  return "portable";
#endif
}

const char* float_path() {
#if TC_AMX_BF16
  if (amx_ready()) return "amx-bf16";
#endif
  return simd_path();
}

const char* simd_path() {
#if defined(__AVX512F__)
  return "avx512";
#elif defined(__AVX2__) && defined(__FMA__)
  return "avx2";
#else
  return "portable";
#endif
}

void set_threads(int n) {
#ifdef _OPENMP
  if (n > 0) omp_set_num_threads(n); // Eigen's own GEMM (the layouts the fast products leave to it)
#endif
  Eigen::setNbThreads(n > 0 ? n : 0);
  pool().threads.store(n > 0 ? n : 0);
}
int get_threads() { return pool_width(); }
} // namespace tcrt
TC_EXPORT void tc_set_threads(int n) { tcrt::set_threads(n); }
TC_EXPORT int tc_get_threads() { return tcrt::get_threads(); }
TC_EXPORT const char* tc_simd_path() { return tcrt::simd_path(); }
TC_EXPORT const char* tc_int8_path() { return tcrt::int8_path(); }
TC_EXPORT const char* tc_float_path() { return tcrt::float_path(); }
