"""Minimal converter for MediaPipe selfie_segmentation*.tflite -> ONNX (opset 14).
Handles exactly the ops these models use: DEQUANTIZE(fp16 weights), CONV_2D, DEPTHWISE_CONV_2D,
HARD_SWISH, RELU, LOGISTIC, ADD, MUL, MEAN, AVERAGE_POOL_2D, RESIZE_BILINEAR and the MediaPipe
custom op Convolution2DTransposeBias. Interface kept NHWC: input [1,H,W,3] float, output [1,H,W,1]."""
import sys, struct, numpy as np, tflite, onnx
from onnx import helper as h, numpy_helper as nh, TensorProto

src, dst = sys.argv[1], sys.argv[2]
buf = open(src, 'rb').read()
m = tflite.Model.GetRootAsModel(buf, 0); g = m.Subgraphs(0)
OPN = {v: k for k, v in tflite.BuiltinOperator.__dict__.items() if not k.startswith('_')}
NP = {tflite.TensorType.FLOAT32: np.float32, tflite.TensorType.FLOAT16: np.float16, tflite.TensorType.INT32: np.int32}

def tname(i): return f"t{i}"
def tshape(i): return [int(x) for x in g.Tensors(i).ShapeAsNumpy()]
def tdata(i):
    t = g.Tensors(i); b = m.Buffers(t.Buffer())
    if b.DataLength() == 0: return None
    return np.frombuffer(b.DataAsNumpy().tobytes(), dtype=NP[t.Type()]).reshape(tshape(i))

consts = {}   # tensor idx -> numpy (NHWC layout as in tflite)
nodes, inits = [], []
def init(name, arr): inits.append(nh.from_array(np.ascontiguousarray(arr), name)); return name
def same_pads(in_hw, k, s, d=(1, 1)):
    pads_b, pads_e = [], []
    for n, kk, ss, dd in zip(in_hw, k, s, d):
        out = -(-n // ss); eff = (kk - 1) * dd + 1
        tot = max((out - 1) * ss + eff - n, 0); pads_b.append(tot // 2); pads_e.append(tot - tot // 2)
    return pads_b + pads_e
def act(out, fused):
    if fused == 0: return out
    assert fused == 1, f"fused act {fused}"
    nodes.append(h.make_node('Relu', [out + '_pre'], [out])); return out + '_pre'

for i in range(g.OperatorsLength()):
    op = g.Operators(i); oc = m.OperatorCodes(op.OpcodeIndex())
    n = OPN[max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())]
    ins, outs = list(op.InputsAsNumpy()), list(op.OutputsAsNumpy())
    o = tname(outs[0]); opt = op.BuiltinOptions()
    if n == 'DEQUANTIZE':
        consts[outs[0]] = tdata(ins[0]).astype(np.float32); continue
    def c(j):  # constant (possibly dequantized)
        return consts[j] if j in consts else tdata(j).astype(np.float32) if tdata(j) is not None else None
    if n in ('CONV_2D', 'DEPTHWISE_CONV_2D'):
        p = tflite.Conv2DOptions() if n == 'CONV_2D' else tflite.DepthwiseConv2DOptions(); p.Init(opt.Bytes, opt.Pos)
        w = c(ins[1]); b = c(ins[2]); ih = tshape(ins[0])
        if n == 'CONV_2D': W = w.transpose(0, 3, 1, 2); group = 1           # OHWI -> OIHW
        else: W = w.transpose(3, 0, 1, 2); group = ih[3]                    # 1HW(C*M) -> (C*M)1HW
        k = list(W.shape[2:]); s = [p.StrideH(), p.StrideW()]; d = [p.DilationHFactor(), p.DilationWFactor()]
        pads = same_pads(ih[1:3], k, s, d) if p.Padding() == tflite.Padding.SAME else [0, 0, 0, 0]
        nodes.append(h.make_node('Conv', [tname(ins[0]), init(o + '_w', W), init(o + '_b', b)], [act(o, p.FusedActivationFunction())],
                                 kernel_shape=k, strides=s, dilations=d, pads=pads, group=group))
    elif n == 'HARD_SWISH': nodes.append(h.make_node('HardSwish', [tname(ins[0])], [o]))
    elif n == 'RELU': nodes.append(h.make_node('Relu', [tname(ins[0])], [o]))
    elif n == 'LOGISTIC': nodes.append(h.make_node('Sigmoid', [tname(ins[0])], [o]))
    elif n in ('ADD', 'MUL'):
        p = tflite.AddOptions() if n == 'ADD' else tflite.MulOptions(); p.Init(opt.Bytes, opt.Pos)
        assert all(tdata(j) is None and j not in consts for j in ins), "const operand not handled"
        nodes.append(h.make_node('Add' if n == 'ADD' else 'Mul', [tname(j) for j in ins], [act(o, p.FusedActivationFunction())]))
    elif n == 'MEAN':
        axes = [int(a) for a in tdata(ins[1]).ravel()]; assert sorted(axes) == [1, 2]
        nodes.append(h.make_node('GlobalAveragePool', [tname(ins[0])], [o]))
    elif n == 'AVERAGE_POOL_2D':
        p = tflite.Pool2DOptions(); p.Init(opt.Bytes, opt.Pos); ih = tshape(ins[0])
        assert [p.FilterHeight(), p.FilterWidth()] == ih[1:3], "only global pool handled"
        nodes.append(h.make_node('GlobalAveragePool', [tname(ins[0])], [act(o, p.FusedActivationFunction())]))
    elif n == 'RESIZE_BILINEAR':
        p = tflite.ResizeBilinearOptions(); p.Init(opt.Bytes, opt.Pos)
        mode = 'align_corners' if p.AlignCorners() else 'half_pixel' if p.HalfPixelCenters() else 'asymmetric'
        size = [int(x) for x in tdata(ins[1]).ravel()]; C = tshape(ins[0])[3]
        nodes.append(h.make_node('Resize', [tname(ins[0]), '', '', init(o + '_sizes', np.array([1, C] + size, np.int64))], [o],
                                 mode='linear', coordinate_transformation_mode=mode))
    elif n == 'CUSTOM' and oc.CustomCode().decode() == 'Convolution2DTransposeBias':
        padding, sw, sh = struct.unpack('<iii', op.CustomOptionsAsNumpy().tobytes())  # TfLitePadding: 1=SAME 2=VALID
        w = c(ins[1]); b = c(ins[2]); ih = tshape(ins[0]); oh = tshape(outs[0])
        W = w.transpose(3, 0, 1, 2)   # OHWI -> I O H W
        k = list(W.shape[2:]); s = [sh, sw]
        tot = [(ih[1] - 1) * sh + k[0] - oh[1], (ih[2] - 1) * sw + k[1] - oh[2]]
        pads = [tot[0] // 2, tot[1] // 2, tot[0] - tot[0] // 2, tot[1] - tot[1] // 2]
        nodes.append(h.make_node('ConvTranspose', [tname(ins[0]), init(o + '_w', W), init(o + '_b', b)], [o],
                                 kernel_shape=k, strides=s, pads=pads))
    else: raise SystemExit(f"unsupported op {n}")

gi, go = int(g.Inputs(0)), int(g.Outputs(0))
ish, osh = tshape(gi), tshape(go)
nodes.insert(0, h.make_node('Transpose', ['input'], [tname(gi)], perm=[0, 3, 1, 2]))
nodes.append(h.make_node('Transpose', [tname(go)], ['output'], perm=[0, 2, 3, 1]))
graph = h.make_graph(nodes, 'selfie_segmentation',
                     [h.make_tensor_value_info('input', TensorProto.FLOAT, ish)],
                     [h.make_tensor_value_info('output', TensorProto.FLOAT, osh)], inits)
model = h.make_model(graph, opset_imports=[h.make_opsetid('', 14)], producer_name='selfie_tflite2onnx')
model.ir_version = 8
onnx.checker.check_model(model, full_check=True)
onnx.save(model, dst); print('wrote', dst, ish, '->', osh, len(nodes), 'nodes')
