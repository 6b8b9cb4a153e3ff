// Streaming-read bandwidth: sums a buffer much larger than the caches with every thread.
// Each thread sums its contiguous share with four independent vector accumulators, so the loop is
// limited by memory, not by the latency of one chain of additions (the first version, a plain
// `s += a[i]` in double, measured ~3 GB/s on the 2-core dev machine: the add latency, not memory).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <immintrin.h>
#include <omp.h>
static float sum_range(const float* a, size_t i0, size_t i1) {
  float tot = 0;
#if defined(__AVX512F__)
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (; i0 + 64 <= i1; i0 += 64) {
    s0 = _mm512_add_ps(s0, _mm512_loadu_ps(a + i0));      s1 = _mm512_add_ps(s1, _mm512_loadu_ps(a + i0 + 16));
    s2 = _mm512_add_ps(s2, _mm512_loadu_ps(a + i0 + 32)); s3 = _mm512_add_ps(s3, _mm512_loadu_ps(a + i0 + 48));
  }
  tot = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
#elif defined(__AVX2__)
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (; i0 + 32 <= i1; i0 += 32) {
    s0 = _mm256_add_ps(s0, _mm256_loadu_ps(a + i0));      s1 = _mm256_add_ps(s1, _mm256_loadu_ps(a + i0 + 8));
    s2 = _mm256_add_ps(s2, _mm256_loadu_ps(a + i0 + 16)); s3 = _mm256_add_ps(s3, _mm256_loadu_ps(a + i0 + 24));
  }
  alignas(32) float t[8];
  _mm256_store_ps(t, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (float x : t) tot += x;
#else
  float s[8] = {0};
  for (; i0 + 8 <= i1; i0 += 8) for (int j = 0; j < 8; j++) s[j] += a[i0 + j];
  for (float x : s) tot += x;
#endif
  for (; i0 < i1; i0++) tot += a[i0];
  return tot;
}
int main(int argc, char** argv) {
  const size_t bytes = (argc > 1 ? std::atol(argv[1]) : 1024) << 20;
  const size_t n = bytes / sizeof(float);
  std::vector<float> a(n, 1.0f);
  double best = 1e30, sink = 0;
  for (int rep = 0; rep < 7; rep++) {
    auto t0 = std::chrono::steady_clock::now();
    double s = 0;
#pragma omp parallel reduction(+ : s)
    {
      const size_t t = omp_get_thread_num(), T = omp_get_num_threads();
      s += sum_range(a.data(), n * t / T, n * (t + 1) / T);
    }
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sink += s;
    if (dt < best) best = dt;
  }
  std::printf("{\"read_GBps\": %.2f, \"threads\": %d, \"bytes\": %zu, \"check\": %.0f}\n", bytes / best / 1e9, omp_get_max_threads(), bytes, sink / 7);
}
