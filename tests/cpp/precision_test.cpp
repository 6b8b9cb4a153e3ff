// The compiled back end's storage rules (compiler/eigen/runtime/tc_runtime.h: f2h, f2b, h2f, b2f,
// f2i, f2i8, i2i8) against numpy, on the same cases tests/precision.test.ts checks runtime/precision.ts
// against: tests/fixtures/examples/precision-cases.json (python-ref/tools/precision_cases.py).
//   precision_test CASES.json
// Prints one line per check and then "N passed, N failed"; exits 1 when a check fails. Built and run
// by `node tests/run-all.mjs cpp`.
#include "tc_runtime.h"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace {

int passed = 0, failed = 0;

// The fixture is one object of named arrays of integers; this reads the array called `name`.
bool read_array(const std::string& json, const std::string& name, std::vector<int64_t>& out) {
  size_t p = json.find("\"" + name + "\"");
  if (p == std::string::npos || (p = json.find('[', p)) == std::string::npos) return false;
  const char* s = json.c_str() + p + 1;
  for (;;) {
    while (*s == ' ' || *s == ',' || *s == '\n' || *s == '\r' || *s == '\t') ++s;
    if (*s == ']') return true;
    char* end;
    const long long v = std::strtoll(s, &end, 10);
    if (end == s) return false;
    out.push_back(v);
    s = end;
  }
}

/** One named check: `bad` holds a description of each failing case (the first few are printed). */
void report(const std::string& name, size_t cases, const std::vector<std::string>& bad) {
  if (bad.empty()) {
    ++passed;
    std::printf("ok   %s (%zu cases)\n", name.c_str(), cases);
    return;
  }
  ++failed;
  std::printf("FAIL %s: %zu of %zu cases\n", name.c_str(), bad.size(), cases);
  for (size_t i = 0; i < bad.size() && i < 8; ++i) std::printf("       %s\n", bad[i].c_str());
}

std::string describe(float x, int64_t got, int64_t want) {
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "%.9g (bits 0x%08x): got %" PRId64 " (0x%" PRIx64 "), want %" PRId64 " (0x%" PRIx64 ")",
                (double)x, tcrt::fbits(x), got, got & 0xffffffff, want, want & 0xffffffff);
  return buf;
}

/** fn(x) == expected[i] for every fixture value x; when isnan16 is given, any NaN encoding matches any. */
void check_all(const std::string& name, const std::vector<float>& xs, const std::vector<int64_t>& expected,
               const std::function<int64_t(float)>& fn, bool (*isnan16)(int64_t) = nullptr) {
  std::vector<std::string> bad;
  for (size_t i = 0; i < xs.size(); ++i) {
    const int64_t got = fn(xs[i]), want = expected[i];
    if (isnan16 && isnan16(got) && isnan16(want)) continue;
    if (got != want) bad.push_back(describe(xs[i], got, want));
  }
  report(name, xs.size(), bad);
}

bool f16_nan(int64_t b) { return (b & 0x7c00) == 0x7c00 && (b & 0x3ff) != 0; }
bool bf16_nan(int64_t b) { return (b & 0x7f80) == 0x7f80 && (b & 0x7f) != 0; }

/** A value checked by hand (the same ones tests/precision.test.ts names); -0 and +0 differ. */
void expect(std::vector<std::string>& bad, const char* what, double got, double want) {
  const bool same = (got != got && want != want) || (got == want && std::signbit(got) == std::signbit(want));
  if (same) return;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s: got %.17g, want %.17g", what, got, want);
  bad.push_back(buf);
}

} // namespace

int main(int argc, char** argv) {
  using namespace tcrt;
  std::vector<int64_t> bits, f16, bf16, i8, i32;
  std::string json;
  if (argc > 1) {
    std::ifstream in(argv[1]);
    std::stringstream ss;
    ss << in.rdbuf();
    json = ss.str();
  }
  if (json.empty() || !read_array(json, "f32_bits", bits) || !read_array(json, "f16_bits", f16) ||
      !read_array(json, "bf16_bits", bf16) || !read_array(json, "int8", i8) ||
      !read_array(json, "int32", i32)) {
    std::printf("FAIL cannot read the cases from %s (usage: precision_test CASES.json)\n",
                argc > 1 ? argv[1] : "(none)");
    std::printf("0 passed, 1 failed\n");
    return 1;
  }
  std::vector<float> xs;
  for (int64_t b : bits) xs.push_back(bitsf((uint32_t)b));

  {
    // the fixture covers the interesting values, with one expectation per value in every array
    std::vector<std::string> bad;
    bool nan = false, negzero = false, inf = false;
    for (float x : xs) {
      nan |= x != x;
      negzero |= x == 0 && std::signbit(x);
      inf |= x == std::numeric_limits<float>::infinity();
    }
    if (xs.size() <= 700) bad.push_back("fewer than 700 values");
    if (!nan || !negzero || !inf) bad.push_back("NaN, -0 or +inf missing");
    for (size_t n : {f16.size(), bf16.size(), i8.size(), i32.size()})
      if (n != xs.size()) bad.push_back("an expectation array has " + std::to_string(n) + " entries");
    report("fixture has the interesting values", xs.size(), bad);
    if (!bad.empty()) {
      std::printf("%d passed, %d failed\n", passed, failed);
      return 1;
    }
  }

  check_all(
      "f2h (f32 -> f16) matches numpy's float32 -> float16 cast bit for bit", xs, f16,
      [](float x) { return (int64_t)f2h(x); }, f16_nan);
  check_all(
      "f2b (f32 -> bf16) matches nearest-even rounding of the float32 bits", xs, bf16,
      [](float x) { return (int64_t)f2b(x); }, bf16_nan);
  check_all("f2i8 (f32 -> int8) rounds half to even and saturates; NaN stores 0", xs, i8,
            [](float x) { return (int64_t)f2i8(x); });
  check_all("f2i (f32 -> int32) rounds half to even and saturates; NaN stores 0", xs, i32,
            [](float x) { return (int64_t)f2i(x); });
  {
    // saturating the int32 result to int8 must give numpy's int8 of the same value
    std::vector<std::string> bad;
    for (size_t i = 0; i < xs.size(); ++i)
      if (i2i8((int32_t)i32[i]) != i8[i]) bad.push_back(describe(xs[i], i2i8((int32_t)i32[i]), i8[i]));
    report("i2i8 (int32 -> int8) saturates numpy's int32 results to its int8 results", xs.size(), bad);
  }
  {
    std::vector<std::string> bad;
    for (uint32_t h = 0; h < 65536; ++h) {
      const float x = h2f((uint16_t)h), y = b2f((uint16_t)h);
      char what[64];
      if (x == x && f2h(x) != h) {
        std::snprintf(what, sizeof what, "f2h(h2f(0x%04x)) = 0x%04x", h, f2h(x));
        bad.push_back(what);
      }
      if (y == y && f2b(y) != h) {
        std::snprintf(what, sizeof what, "f2b(b2f(0x%04x)) = 0x%04x", h, f2b(y));
        bad.push_back(what);
      }
      // a NaN encoding must decode to NaN, not to an infinity
      if (f16_nan(h) != (x != x) || bf16_nan(h) != (y != y)) {
        std::snprintf(what, sizeof what, "0x%04x decodes to %g (f16), %g (bf16)", h, (double)x, (double)y);
        bad.push_back(what);
      }
    }
    report("h2f and b2f invert the encoders on every finite value", 65536, bad);
  }
  {
    std::vector<std::string> bad;
    const auto f16r = [](double x) { return (double)h2f(f2h((float)x)); };
    const auto bf16r = [](double x) { return (double)b2f(f2b((float)x)); };
    expect(bad, "f16 65504", f16r(65504), 65504);
    expect(bad, "f16 65520", f16r(65520), HUGE_VAL);
    expect(bad, "f16 2049", f16r(2049), 2048);
    expect(bad, "f16 2051", f16r(2051), 2052);
    expect(bad, "f16 2^-25 (a tie with 0)", f16r(std::ldexp(1.0, -25)), 0);
    expect(bad, "f16 1.5*2^-25", f16r(1.5 * std::ldexp(1.0, -25)), std::ldexp(1.0, -24));
    expect(bad, "f16 -0", f16r(-0.0), -0.0);
    expect(bad, "bf16 257", bf16r(257), 256);
    expect(bad, "bf16 259", bf16r(259), 260);
    expect(bad, "bf16 1/3", bf16r(1.0 / 3), 0.333984375);
    expect(bad, "bf16 -0", bf16r(-0.0), -0.0);
    const float i8in[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 126.5f, 127.5f, 1000, -1000, NAN};
    const int i8out[] = {0, 2, 2, 0, -2, -2, 126, 127, 127, -128, 0};
    for (int i = 0; i < 11; ++i)
      expect(bad, ("int8 " + std::to_string(i8in[i])).c_str(), f2i8(i8in[i]), i8out[i]);
    // as floats, 2147483647.5 and -2147483648.5 are ±2^31: both saturate
    const float i32in[] = {2147483647.5f, 3e9f, -3e9f, -2147483648.5f, NAN, INFINITY, -INFINITY};
    const double hi = 2147483647, lo = -2147483648.0, i32out[] = {hi, hi, lo, lo, 0, hi, lo};
    for (int i = 0; i < 7; ++i)
      expect(bad, ("int32 " + std::to_string(i32in[i])).c_str(), f2i(i32in[i]), i32out[i]);
    report("hand-checked values", 11 + 11 + 7, bad);
  }

  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
