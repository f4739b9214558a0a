# Builds two ONNX models for the WebGPU check: the SAE encoder's shape (x[N,576] @ W[576,4096] + b, ReLU)
# and a square fp32 GEMM chain (x[N,2048] through 4 layers of 2048x2048) for a throughput figure.
import numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
rng = np.random.default_rng(0)
def model(path, dims, relu):
    nodes, inits = [], []
    prev = 'x'
    for i, (a, b) in enumerate(dims):
        w = (rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32)
        bias = (rng.standard_normal(b) * 0.01).astype(np.float32)
        inits += [numpy_helper.from_array(w, f'w{i}'), numpy_helper.from_array(bias, f'b{i}')]
        nodes += [helper.make_node('MatMul', [prev, f'w{i}'], [f'm{i}']), helper.make_node('Add', [f'm{i}', f'b{i}'], [f'a{i}'])]
        prev = f'a{i}'
        if relu:
            nodes.append(helper.make_node('Relu', [prev], [f'r{i}']))
            prev = f'r{i}'
    nodes.append(helper.make_node('Identity', [prev], ['y']))
    g = helper.make_graph(nodes, 'g', [helper.make_tensor_value_info('x', TensorProto.FLOAT, ['n', dims[0][0]])], [helper.make_tensor_value_info('y', TensorProto.FLOAT, ['n', dims[-1][1]])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 17)])
    m.ir_version = 8
    onnx.save(m, path)
model('/tmp/sae.onnx', [(576, 4096)], True)
model('/tmp/gemm.onnx', [(2048, 2048)] * 4, False)
print('models written')
