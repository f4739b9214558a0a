"""probe-builder: real model -> ONNX residual extractor -> SAE -> probewatch probe pack."""

__version__ = "1.0.0"
