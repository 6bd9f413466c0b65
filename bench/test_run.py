"""Unit tests for bench/run.py helpers (no TensorFlow, no kinfer needed):

    /opt/kvenv/bin/python -m unittest bench/test_run.py
"""

import os
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402


class ExpandModels(unittest.TestCase):
    def test_cnn_group(self):
        self.assertEqual(run.expand_models("mlp,cnn"), ["mlp", "resnet18", "mobilenet_v2"])
        self.assertEqual(run.expand_models("resnet18,"), ["resnet18"])
        self.assertNotIn("resnet18", run.ALL_MODELS)  # opt-in: not in the default run


class Errors(unittest.TestCase):
    def test_exact(self):
        y = np.array([[1.0, -2.0, 3.0]], np.float32)
        r = run.errors(y.copy(), y, recurrent=False)
        self.assertEqual(r["max_abs"], 0.0)
        self.assertEqual(r["max_rel"], 0.0)
        self.assertTrue(r["within_bound"])

    def test_bound_and_rel_floor(self):
        want = np.array([[1.0, 1e-9]], np.float32)
        got = np.array([[1.0 + 1e-6, 2e-9]], np.float32)
        r = run.errors(got, want, recurrent=False)
        self.assertAlmostEqual(r["max_abs"], 1e-6, delta=1e-7)
        # the 1e-9 element is judged against the floor (0.1% of max |want|), not itself
        self.assertLess(r["max_rel"], 1e-5)
        self.assertTrue(r["within_bound"])
        got[0, 0] = 1.0 + 1e-4
        self.assertFalse(run.errors(got, want, recurrent=False)["within_bound"])
        self.assertTrue(run.errors(got, want, recurrent=True)["within_bound"])

    def test_shape(self):
        want = np.zeros((2, 3), np.float32)
        self.assertIn("max_abs", run.errors(np.zeros(6, np.float32), want, False))
        self.assertIn("error", run.errors(np.zeros(5, np.float32), want, False))

    def test_nan(self):
        want = np.zeros((1, 2), np.float32)
        got = np.array([[0.0, np.nan]], np.float32)
        r = run.errors(got, want, False)
        self.assertFalse(r["finite"])
        self.assertFalse(r["within_bound"])


class Format(unittest.TestCase):
    def test_us(self):
        self.assertEqual(run.fmt_us(25.94), "25.9 µs")
        self.assertEqual(run.fmt_us(346.0), "346 µs")
        self.assertEqual(run.fmt_us(36590.0), "36.59 ms")
        self.assertEqual(run.fmt_us(2.5e6), "2.50 s")

    def test_ratio(self):
        self.assertEqual(run.fmt_x(1410.2), "1410×")
        self.assertEqual(run.fmt_x(1.34), "1.3×")
        self.assertEqual(run.fmt_x(0.271), "0.27×")


class Readme(unittest.TestCase):
    def test_update_between_markers(self):
        with tempfile.TemporaryDirectory() as d:
            md, readme = os.path.join(d, "r.md"), os.path.join(d, "README.md")
            with open(md, "w") as f:
                f.write("# kinfer benchmark results\n\nMachine: X\n\n## Latency\n\n| a |\n")
            with open(readme, "w") as f:
                f.write(f"intro\n{run.BEGIN}\nold\n{run.END}\noutro\n")
            run.update_readme(md, readme)
            with open(readme) as f:
                text = f.read()
            self.assertIn("Machine: X", text)
            self.assertIn("### Latency", text)
            self.assertNotIn("old", text)
            self.assertTrue(text.startswith("intro\n") and text.endswith(f"{run.END}\noutro\n"))


if __name__ == "__main__":
    unittest.main()
