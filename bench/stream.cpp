// Streaming-read bandwidth: sums a buffer much larger than the caches with every thread.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <omp.h>
int main(int argc, char** argv) {
  const size_t bytes = (argc > 1 ? std::atol(argv[1]) : 1024) << 20;
  const size_t n = bytes / sizeof(float);
  std::vector<float> a(n, 1.0f);
  double best = 1e30, sink = 0;
  for (int rep = 0; rep < 5; rep++) {
    auto t0 = std::chrono::steady_clock::now();
    double s = 0;
#pragma omp parallel for reduction(+ : s) schedule(static)
    for (size_t i = 0; i < n; i++) s += a[i];
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sink += s;
    if (dt < best) best = dt;
  }
  std::printf("{\"read_GBps\": %.2f, \"threads\": %d, \"bytes\": %zu, \"check\": %.0f}\n", bytes / best / 1e9, omp_get_max_threads(), bytes, sink / 5);
}
