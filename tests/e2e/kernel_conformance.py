"""The official jupyter_kernel_test suite against the tensorcore kernel, with .ta samples for every
test the language can express. (It has no strings to print, so the stdout/stderr "hello, world"
tests and the pager test are skipped by the suite itself.)

Run by tests/e2e/jupyter.e2e.ts with JUPYTER_PATH pointing at a temp prefix where
`tensorcore kernel install --prefix` put the kernelspec:
    JUPYTER_PATH=PREFIX/share/jupyter .venv/bin/python -m pytest -q tests/e2e/kernel_conformance.py
"""
import unittest

import jupyter_kernel_test


class TensorCoreKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "tensorcore"
    language_name = "tensorcore"
    file_extension = ".ta"

    completion_samples = [
        {"text": "SOFTM", "matches": {"SOFTMAX"}},
        {"text": "type V = Tensor<f3", "matches": {"f32"}},
        {"text": "%heat", "matches": {"%heatmap"}},
    ]

    complete_code_samples = [
        "x = 1;",
        "type V = Tensor<f32, {4}>;\nkernel inc(V v) { v = v + 1; }",
        "%who",
        "1 + 1",
    ]
    incomplete_code_samples = [
        "kernel inc(V v) {",
        "batch(i = 0..4 step 1) {\n  x[i] = x[i] +",
        "/* an open comment",
    ]
    invalid_code_samples = [
        "x = 1; }",
        "kernel 1x(",
        "type = ;",
    ]

    code_generate_error = "x = undefined_name;"

    code_execute_result = [
        {"code": "1 + 1", "result": "2"},
        {"code": "2 * 3", "result": "6"},
        {"code": "type V = Tensor<f32, {3}>;\nV v;\nv = 1.5;\nv", "result": "Tensor<f32, {3}>\n[1.5, 1.5, 1.5]"},
    ]

    code_display_data = [
        {"code": "type S = Tensor<f32, {2, 2}>;\nS s;\ns = 1;\n%heatmap s", "mime": "application/vnd.plotly.v1+json"},
        {"code": "type S = Tensor<f32, {2, 2}>;\nS s;\ns = 1;\n%heatmap s", "mime": "image/svg+xml"},
        {"code": "type S = Tensor<f32, {2, 2}>;\nS s;\ns = 1;\n%display s", "mime": "text/html"},
    ]

    supported_history_operations = ("tail", "range", "search")
    code_history_pattern = "1 +*"

    code_inspect_sample = "SOFTMAX"


if __name__ == "__main__":
    unittest.main()
