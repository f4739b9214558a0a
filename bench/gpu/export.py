# Converts the pack's GGUF to the residual ONNX graph (layer 18, with the key/value cache inputs),
# with the repository's own converter (tools/probe-builder), on the device.
import sys, time
from pathlib import Path
sys.path.insert(0, 'tools/probe-builder')
from probe_builder.gguf_model import load_gguf
from probe_builder.onnx_export import export
t0 = time.time()
g = load_gguf(Path(sys.argv[1]))
export(g, [18], Path(sys.argv[2]), lambda *a: None, kv_cache=True)
print(f'exported in {time.time() - t0:.1f} s')
