// The runtime's thread pool (compiler/eigen/runtime/tc_runtime.cpp, "the pool"): every chunk runs
// exactly once, slots stay below the width, nested work runs inline, two callers at once both finish
// (the second inline), par_for reports the lowest failing iteration, and a storm of tiny jobs never
// runs a chunk of one job with another job's function (the generation-tagged ticket). The expected
// values are counted by hand here; none come from the pool.
//   pool_test            → one line per check, then "N passed, N failed"
#include "tc_runtime.h"
#include <cstdio>
#include <thread>

namespace tcrt {
void set_threads(int n);
}

static int passed = 0, failed = 0;
static void check(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  (ok ? passed : failed) += 1;
}

int main() {
  tcrt::set_threads(4); // more threads than this machine may have cores: workers then also wait their turn
  {
    bool ok = true, slots = true;
    for (int64_t n : {1, 2, 3, 7, 64, 1000})
      for (int w : {1, 2, 3, 4}) {
        std::vector<std::atomic<int>> hits((size_t)n);
        tcrt::run_chunks(n, w, [&](int64_t k, int slot) {
          hits[(size_t)k].fetch_add(1);
          if (slot < 0 || slot >= w) slots = false;
        });
        for (auto& h : hits) ok = ok && h.load() == 1;
      }
    check(ok, "every chunk runs exactly once (n = 1..1000, width 1..4)");
    check(slots, "slots stay below the width");
  }
  {
    std::atomic<int> outer{0}, inner{0};
    bool nested_inline = true;
    tcrt::run_chunks(8, 4, [&](int64_t, int) {
      outer.fetch_add(1);
      if (!tcrt::in_pool()) nested_inline = false;
      tcrt::run_chunks(5, 4, [&](int64_t, int slot) {
        inner.fetch_add(1);
        if (slot != 0) nested_inline = false;
      });
    });
    check(outer.load() == 8 && inner.load() == 40 && nested_inline, "work nested in a chunk runs inline, all of it");
    check(!tcrt::in_pool(), "the caller is not marked in the pool after a job");
  }
  {
    // two callers at once, each with its own jobs and its own sums
    auto caller = [](int64_t seed, int64_t* out) {
      int64_t total = 0;
      for (int j = 0; j < 2000; ++j) {
        std::vector<int64_t> part(16, 0);
        tcrt::run_chunks(16, 4, [&](int64_t k, int) { part[(size_t)k] = seed * 1000 + j + k; });
        for (int64_t v : part) total += v;
      }
      *out = total;
    };
    int64_t a = 0, b = 0;
    std::thread t1(caller, 1, &a), t2(caller, 2, &b);
    t1.join();
    t2.join();
    // Σ_j Σ_k (seed·1000 + j + k) = 2000·16·seed·1000 + 16·Σj + 2000·Σk
    const int64_t base = 16 * (1999 * 2000 / 2) + 2000 * (15 * 16 / 2);
    check(a == 2000 * 16 * 1000 * 1 + base && b == 2000 * 16 * 1000 * 2 + base, "two callers at once both get their own results");
  }
  {
    // many tiny jobs back to back: a chunk must only ever see its own job's context
    bool ok = true;
    for (int j = 0; j < 50000 && ok; ++j) {
      const int64_t n = 1 + j % 5;
      std::vector<int> seen((size_t)n, -1);
      tcrt::run_chunks(n, 4, [&, j](int64_t k, int) { seen[(size_t)k] = j; });
      for (int v : seen) ok = ok && v == j;
    }
    check(ok, "50000 tiny jobs: no chunk runs with another job's function");
  }
  {
    tcrt::Rt rt{nullptr, nullptr};
    tcrt::Fault F{};
    std::atomic<int> ran{0};
    const int rc = tcrt::par_for(
        1000,
        [&](int64_t k, tcrt::Fault* f) {
          ran.fetch_add(1);
          if (k == 700 || k == 9 || k == 5) return tcrt::fault(f, 40 + (int32_t)k, (int32_t)k);
          return 0;
        },
        &rt, &F);
    check(rc == 1 && F.id == 45 && F.v0 == 5, "par_for reports the lowest failing iteration's fault");
    check(ran.load() >= 6, "par_for ran every iteration up to the failing one");
  }
  tcrt::set_threads(1);
  check(tcrt::pool_width() == 1 && !tcrt::can_parallel(), "one thread: nothing runs in parallel");
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
