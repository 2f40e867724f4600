#include "kernels/ops_args.h"

#include <ATen/ATen.h>

#include "base/error.h"  // KVMIX_CHECK

namespace kvmix::ops {

namespace {

std::string shape_str(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

void check_shape(const at::Tensor& t, const std::vector<int64_t>& expected, const char* op,
                 const std::string& name) {
  KVMIX_CHECK(t.sizes().vec() == expected, "{}: {} has shape {} but the layout needs {}", op, name,
              shape_str(t.sizes()), shape_str(expected));
}

}  // namespace

std::vector<int64_t> encode_format(const QuantFormat& f) {
  return {static_cast<int64_t>(f.kind), f.bits, static_cast<int64_t>(f.axis), f.group,
          f.symmetric ? 1 : 0, static_cast<int64_t>(f.scale_dtype), f.residual,
          static_cast<int64_t>(f.fp8_scope)};
}

QuantFormat decode_format(at::IntArrayRef v, const char* op) {
  KVMIX_CHECK(v.size() == 8, "{}: a format is 8 integers, got {}", op, v.size());
  auto in = [&](size_t i, int64_t hi, const char* what) {
    KVMIX_CHECK(v[i] >= 0 && v[i] <= hi, "{}: format field {} = {} is outside [0, {}]", op, what,
                v[i], hi);
    return v[i];
  };
  QuantFormat f;
  f.kind = static_cast<QuantKind>(in(0, 3, "kind"));
  f.bits = static_cast<int>(in(1, 64, "bits"));
  f.axis = static_cast<QuantAxis>(in(2, 1, "axis"));
  f.group = static_cast<int>(in(3, 1 << 30, "group"));
  f.symmetric = in(4, 1, "symmetric") != 0;
  f.scale_dtype = static_cast<ScaleDtype>(in(5, 1, "scale_dtype"));
  f.residual = static_cast<int>(in(6, 1 << 30, "residual"));
  f.fp8_scope = static_cast<Fp8Scope>(in(7, 1, "fp8_scope"));
  return f;
}

ElemType elem_type(at::ScalarType s, const char* op, const char* name) {
  switch (s) {
    case at::kFloat:
      return ElemType::kF32;
    case at::kBFloat16:
      return ElemType::kBF16;
    case at::kHalf:
      return ElemType::kF16;
    default:
      throw Error(fmt::format("{}: {} has dtype {} but must be float32, bfloat16 or float16", op,
                              name, c10::toString(s)));
  }
}

ElemType elem_type(const at::Tensor& t, const char* op, const char* name) {
  return elem_type(t.scalar_type(), op, name);
}

at::ScalarType scalar_type(ElemType t) {
  return t == ElemType::kF32 ? at::kFloat : t == ElemType::kBF16 ? at::kBFloat16 : at::kHalf;
}

at::ScalarType scale_scalar_type(ScaleDtype d) { return d == ScaleDtype::kF32 ? at::kFloat : at::kHalf; }

void check_tensor(const at::Tensor& t, const char* op, const char* name, at::Device device) {
  KVMIX_CHECK(t.defined(), "{}: {} is undefined", op, name);
  KVMIX_CHECK(t.device() == device, "{}: {} is on {} but the op runs on {}", op, name,
              t.device().str(), device.str());
  KVMIX_CHECK(t.is_contiguous(), "{}: {} (shape {}) must be contiguous; call .contiguous() first",
              op, name, shape_str(t.sizes()));
}

QuantInput check_quant_input(const at::Tensor& x, const QuantFormat& f, const char* op) {
  KVMIX_CHECK(x.defined(), "{}: x is undefined", op);
  KVMIX_CHECK(x.dim() >= 2, "{}: x has shape {} but must be [..., tokens, channels]", op,
              shape_str(x.sizes()));
  check_tensor(x, op, "x", x.device());
  QuantInput in;
  in.type = elem_type(x, op, "x");
  in.lead_shape.assign(x.sizes().begin(), x.sizes().end() - 2);
  in.layout = packed_layout(f, product(in.lead_shape), x.size(-2), x.size(-1));
  return in;
}

std::vector<int64_t> codes_shape(const QuantFormat& f, const PackedLayout& l,
                                 const std::vector<int64_t>& lead_shape) {
  std::vector<int64_t> s = lead_shape;
  if (f.kind == QuantKind::kFp8E4M3) {
    s.insert(s.end(), {l.tokens, l.words});
  } else {
    s.insert(s.end(), {l.rows, l.cols, l.words});
  }
  return s;
}

std::vector<int64_t> scales_shape(const QuantFormat& f, const PackedLayout& l,
                                  const std::vector<int64_t>& lead_shape) {
  if (f.kind == QuantKind::kFp8E4M3) {
    if (f.fp8_scope == Fp8Scope::kPerTensor || lead_shape.empty()) return {1};
    return lead_shape;
  }
  std::vector<int64_t> s = lead_shape;
  s.insert(s.end(), {l.rows, l.cols});
  return s;
}

PackedInput check_packed(const at::Tensor& codes, const at::Tensor& scales,
                         const c10::optional<at::Tensor>& zeros, int64_t tokens, int64_t channels,
                         const QuantFormat& f, const char* op, const char* name) {
  const std::string n = name;
  KVMIX_CHECK(codes.defined() && scales.defined(), "{}: {} codes or scales are undefined", op, n);
  const at::Device dev = codes.device();
  check_tensor(codes, op, (n + " codes").c_str(), dev);
  check_tensor(scales, op, (n + " scales").c_str(), dev);
  KVMIX_CHECK(codes.scalar_type() == at::kInt, "{}: {} codes have dtype {} but must be int32", op,
              n, c10::toString(codes.scalar_type()));
  const at::ScalarType sd = scale_scalar_type(f.scale_dtype);
  KVMIX_CHECK(scales.scalar_type() == sd, "{}: {} scales have dtype {} but format {} stores {}",
              op, n, c10::toString(scales.scalar_type()), format_name(f), c10::toString(sd));
  const int64_t tail = f.kind == QuantKind::kFp8E4M3 ? 2 : 3;
  KVMIX_CHECK(codes.dim() >= tail, "{}: {} codes have shape {}, too few dims for format {}", op,
              n, shape_str(codes.sizes()), format_name(f));
  PackedInput p;
  p.lead_shape.assign(codes.sizes().begin(), codes.sizes().end() - tail);
  p.layout = packed_layout(f, product(p.lead_shape), tokens, channels);
  check_shape(codes, codes_shape(f, p.layout, p.lead_shape), op, n + " codes");
  check_shape(scales, scales_shape(f, p.layout, p.lead_shape), op, n + " scales");
  const bool given = zeros.has_value() && zeros->defined();
  if (has_zeros(f)) {
    KVMIX_CHECK(given, "{}: format {} is asymmetric but {} zeros are missing", op, format_name(f),
                n);
    check_tensor(*zeros, op, (n + " zeros").c_str(), dev);
    KVMIX_CHECK(zeros->scalar_type() == sd, "{}: {} zeros have dtype {} but must be {}", op, n,
                c10::toString(zeros->scalar_type()), c10::toString(sd));
    check_shape(*zeros, scales_shape(f, p.layout, p.lead_shape), op, n + " zeros");
  } else {
    KVMIX_CHECK(!given || zeros->numel() == 0, "{}: format {} stores no zeros but {} zeros were given",
                op, format_name(f), n);
  }
  return p;
}

void check_finite(const at::Tensor& t, const char* op, const char* name) {
  if (t.numel() == 0) return;
  KVMIX_CHECK(at::isfinite(t).all().item<bool>(),
              "{}: {} contains NaN or inf; kvmix refuses non-finite input (kernels/ops.h)", op,
              name);
}

void throw_non_finite(const at::Tensor& x, const QuantFormat& f, int64_t bad_groups,
                      const char* op) {
  check_finite(x, op, "x");
  const double amax = x.abs().max().item<double>();
  throw Error(fmt::format(
      "{}: {} group(s) of x have a scale or zero that overflows the {} scale dtype of format {} "
      "(max |x| = {:g}); use fp32 scales",
      op, bad_groups, f.scale_dtype == ScaleDtype::kF16 ? "fp16" : "fp32", format_name(f), amax));
}

AttentionCall prepare_attention(const at::Tensor& q, const at::Tensor& k_codes,
                                const at::Tensor& k_scales, const c10::optional<at::Tensor>& k_zeros,
                                int64_t k_tokens, const QuantFormat& kf, const at::Tensor& k_resid,
                                const at::Tensor& v_codes, const at::Tensor& v_scales,
                                const c10::optional<at::Tensor>& v_zeros, int64_t v_tokens,
                                const QuantFormat& vf, const at::Tensor& v_resid,
                                const c10::optional<at::Tensor>& valid) {
  const char* op = "kvmix::decode_attention";
  KVMIX_CHECK(q.defined() && q.dim() == 3, "{}: q must be [batch, q_heads, head_dim]", op);
  const at::Device dev = q.device();
  check_tensor(q, op, "q", dev);
  KVMIX_CHECK(kf.kind == QuantKind::kUniform && kf.axis == QuantAxis::kPerChannel,
              "{}: key format {} is not supported by the fused kernel (it takes per-channel "
              "uniform keys)",
              op, format_name(kf));
  KVMIX_CHECK(vf.kind == QuantKind::kUniform && vf.axis == QuantAxis::kPerToken,
              "{}: value format {} is not supported by the fused kernel (it takes per-token "
              "uniform values)",
              op, format_name(vf));
  AttentionCall c;
  DecodeAttentionArgs& a = c.args;
  a.batch = q.size(0);
  a.q_heads = q.size(1);
  a.head_dim = q.size(2);
  a.q_type = elem_type(q, op, "q");
  const PackedInput kp = check_packed(k_codes, k_scales, k_zeros, k_tokens, a.head_dim, kf, op, "k");
  const PackedInput vp = check_packed(v_codes, v_scales, v_zeros, v_tokens, a.head_dim, vf, op, "v");
  KVMIX_CHECK(kp.lead_shape.size() == 2 && kp.lead_shape[0] == a.batch,
              "{}: k codes must lead with [batch = {}, kv_heads], got {}", op, a.batch,
              shape_str(kp.lead_shape));
  a.kv_heads = kp.lead_shape[1];
  KVMIX_CHECK(vp.lead_shape == kp.lead_shape, "{}: v codes lead with {} but k codes with {}", op,
              shape_str(vp.lead_shape), shape_str(kp.lead_shape));
  KVMIX_CHECK(a.kv_heads >= 1 && a.q_heads % a.kv_heads == 0,
              "{}: q_heads = {} is not a multiple of kv_heads = {}", op, a.q_heads, a.kv_heads);
  KVMIX_CHECK(k_codes.device() == dev && v_codes.device() == dev,
              "{}: the packed keys and values must be on q's device {}", op, dev.str());

  auto resid = [&](const at::Tensor& r, const char* name, PackedOperand& o) {
    KVMIX_CHECK(r.defined() && r.dim() == 4 && r.size(0) == a.batch && r.size(1) == a.kv_heads &&
                    r.size(3) == a.head_dim,
                "{}: {} must be [batch = {}, kv_heads = {}, R, head_dim = {}], got {}", op, name,
                a.batch, a.kv_heads, a.head_dim, r.defined() ? shape_str(r.sizes()) : "undefined");
    check_tensor(r, op, name, dev);
    o.resid_type = elem_type(r, op, name);
    o.resid_tokens = r.size(2);
    o.resid = r.data_ptr();
  };
  a.k.format = kf;
  a.k.layout = kp.layout;
  a.v.format = vf;
  a.v.layout = vp.layout;
  resid(k_resid, "k_resid", a.k);
  resid(v_resid, "v_resid", a.v);
  KVMIX_CHECK(k_tokens + a.k.resid_tokens == v_tokens + a.v.resid_tokens,
              "{}: keys cover {} + {} tokens but values {} + {}", op, k_tokens, a.k.resid_tokens,
              v_tokens, a.v.resid_tokens);
  if (valid.has_value() && valid->defined()) {
    check_tensor(*valid, op, "valid", dev);
    KVMIX_CHECK(valid->scalar_type() == at::kBool, "{}: valid must be bool, got {}", op,
                c10::toString(valid->scalar_type()));
    check_shape(*valid, {a.batch, a.tokens()}, op, "valid");
    a.valid = valid->data_ptr<bool>();
  }
  check_finite(q, op, "q");
  check_finite(k_resid, op, "k_resid");
  check_finite(v_resid, op, "v_resid");

  a.k.codes = reinterpret_cast<const uint32_t*>(k_codes.data_ptr<int32_t>());
  a.k.scales = k_scales.data_ptr();
  a.k.zeros = has_zeros(kf) ? k_zeros->data_ptr() : nullptr;
  a.v.codes = reinterpret_cast<const uint32_t*>(v_codes.data_ptr<int32_t>());
  a.v.scales = v_scales.data_ptr();
  a.v.zeros = has_zeros(vf) ? v_zeros->data_ptr() : nullptr;
  c.out = at::empty({a.batch, a.q_heads, a.head_dim}, q.options());
  a.out = c.out.data_ptr();
  a.out_type = a.q_type;
  a.q = q.data_ptr();
  return c;
}

}  // namespace kvmix::ops
