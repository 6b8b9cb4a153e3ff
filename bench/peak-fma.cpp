// Peak FMA rate: every thread runs independent chains of vector multiply-adds on registers (no
// memory traffic), enough chains to cover the FMA latency on two ports. The profiler's roofline
// (runtime/roofline.ts) takes this as the compute ceiling; a multiply-add counts 2 FLOPs.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <immintrin.h>
#include <omp.h>

#if defined(__AVX512F__)
typedef __m512 V;
#define LANES 16
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
static float hsum(V v) { return _mm512_reduce_add_ps(v); }
static const char* ISA = "avx512";
#elif defined(__FMA__)
typedef __m256 V;
#define LANES 8
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
static float hsum(V v) { alignas(32) float t[8]; _mm256_store_ps(t, v); float s = 0; for (float x : t) s += x; return s; }
static const char* ISA = "avx2+fma";
#else
#error "needs FMA (AVX2+FMA or AVX-512)"
#endif

#define CHAINS 12

static float run(long iters, float seed) {
  V a = SET1(0.999999f), b = SET1(seed * 1e-7f);
  V acc[CHAINS];
  for (int c = 0; c < CHAINS; c++) acc[c] = SET1(seed + c);
  for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
    for (int c = 0; c < CHAINS; c++) acc[c] = FMA(acc[c], a, b);
  }
  V s = acc[0];
  for (int c = 1; c < CHAINS; c++) s = ADD(s, acc[c]);
  return hsum(s);
}

int main(int argc, char** argv) {
  const long iters = argc > 1 ? std::atol(argv[1]) : 20000000;
  double best = 1e30, sink = 0;
  int threads = 1;
  for (int rep = 0; rep < 5; rep++) {
    auto t0 = std::chrono::steady_clock::now();
    double s = 0;
#pragma omp parallel reduction(+ : s)
    {
      s += run(iters, 1.0f + omp_get_thread_num());
#pragma omp single
      threads = omp_get_num_threads();
    }
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sink += s;
    if (dt < best) best = dt;
  }
  const double flops = 2.0 * LANES * CHAINS * (double)iters * threads;
  std::printf("{\"peak_GFLOPs\": %.2f, \"threads\": %d, \"isa\": \"%s\", \"check\": %.3g}\n", flops / best / 1e9, threads, ISA, sink);
}
