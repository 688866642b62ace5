// fastdrop.torch's native eager op: dropout of a contiguous CPU float32/float64 tensor with
// a C++ autograd node whose forward and backward call fastdrop's Numba kernels through
// C function pointers (Numba cfuncs made in fastdrop/torch/native.py). No Python runs
// between autograd and the kernels: what a Python autograd.Function costs per call
// (about 27-31 us for an empty one here, NOTES.md) is what this saves. A module's forward
// is one call of its Site (below), which also reads and advances the module's offset.
//
// The kernels, the Plan (threshold t, scales, Philox key and counter words) and so the
// bits are fastdrop's: Python computes the Plan and passes its numbers in; this file only
// allocates y, the packed mask and dx and calls the kernels. Double backward
// (create_graph=True) goes through the registered op fastdrop::dropout_backward.
#include <torch/extension.h>

#include <ATen/EmptyTensor.h>
#include <torch/csrc/autograd/functions/utils.h>
#include <torch/csrc/dynamo/compiled_autograd.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace {

// fastdrop/kernels/cpu.py _masked_body: forward (store_mask: the packed mask into mask) or
// the backward regenerating the mask (store_mask 0, mask unused).
using MaskedFn = void (*)(void* x, void* y, uint8_t* mask, int64_t n, int32_t store_mask,
                          int32_t mode, int32_t t, double a, double b, double other,
                          uint64_t k0, uint64_t k1, uint64_t o0, uint64_t o1, int32_t stream);
// fastdrop/kernels/cpu.py _from_mask_body: the backward from a stored packed mask.
using FromMaskFn = void (*)(void* dy, void* dx, uint8_t* mask, int64_t n, int32_t mode,
                            double a, double other, int32_t stream);

MaskedFn MASKED[2] = {nullptr, nullptr};      // [0] float32, [1] float64
FromMaskFn FROM_MASK[2] = {nullptr, nullptr};
int64_t STREAM_FROM_BYTES = INT64_MAX;          // cpu.STREAM_FROM_BYTES, set with the kernels

void set_kernels(int64_t masked32, int64_t masked64, int64_t from_mask32,
                 int64_t from_mask64, int64_t stream_from_bytes) {
  MASKED[0] = reinterpret_cast<MaskedFn>(masked32);
  MASKED[1] = reinterpret_cast<MaskedFn>(masked64);
  FROM_MASK[0] = reinterpret_cast<FromMaskFn>(from_mask32);
  FROM_MASK[1] = reinterpret_cast<FromMaskFn>(from_mask64);
  STREAM_FROM_BYTES = stream_from_bytes;
}

int kind_of(const at::Tensor& t) {
  TORCH_CHECK(t.device().is_cpu() && t.is_contiguous(),
              "fastdrop native op: a contiguous CPU tensor is needed");
  if (t.scalar_type() == at::kFloat) return 0;
  if (t.scalar_type() == at::kDouble) return 1;
  TORCH_CHECK(false, "fastdrop native op: dtype ", t.scalar_type(),
              " is not float32 or float64");
  return -1;
}

// cpu.streaming(): how the kernel writes y: 0 plain stores; non-temporal ones for outputs
// of STREAM_FROM_BYTES and more, 16-byte aligned (1: xmm stores) or 32-byte aligned (2: ymm
// stores; c10's CPU allocator aligns to 64 bytes).
int32_t streaming(const at::Tensor& y) {
  auto addr = reinterpret_cast<uintptr_t>(y.data_ptr());
  if (y.nbytes() < static_cast<size_t>(STREAM_FROM_BYTES) || addr % 16 != 0) return 0;
  return addr % 32 == 0 ? 2 : 1;
}

// What a call needs besides x, seed and offset: the Plan's constants for one (p, variant,
// dtype) and the backward's. Shared (not copied) by every node a Site makes.
struct Consts {
  int64_t t, fmode, bmode;
  double fa, fb, fother, ba, bother, p;
  std::string variant;
  bool store_mask;
};
using ConstsPtr = std::shared_ptr<const Consts>;

// What a call saves for backward when no mask is kept: one empty uint8 tensor (the
// registered op returns the same, so saved-tensor hooks see a tensor of 0 bytes).
const at::Tensor& no_mask() {
  static const at::Tensor empty = at::empty({0}, at::TensorOptions().dtype(at::kByte));
  return empty;
}

at::Tensor empty_cpu(at::IntArrayRef sizes, at::ScalarType dtype) {
  // at::detail::empty_cpu is what at::empty's CPU kernel runs, without the dispatcher
  return at::detail::empty_cpu(sizes, dtype, /*pin_memory=*/false, c10::nullopt);
}

// The autograd node of one call, written as torch's generated nodes are (MulBackward0 and
// the like) rather than through torch::autograd::Function, whose generic bookkeeping (a
// context of IValues, output wrapping) cost more than the kernels at 10^4 elements.
struct NativeDropoutBackward : public torch::autograd::Node {
  torch::autograd::SavedVariable mask_;
  ConstsPtr c_;
  int kind_ = 0;
  uint64_t k0_ = 0, k1_ = 0, o0_ = 0, o1_ = 0, seed_ = 0, offset_ = 0;

  std::string name() const override { return "NativeDropoutBackward"; }

  // Compiled autograd (torch._dynamo.compiled_autograd) traces nodes through dispatcher
  // ops; this node calls kernels by pointer, so it says what to do instead of Node's
  // generic "not implemented".
  void compiled_args(torch::dynamo::autograd::CompiledNodeArgs& /*args*/) const override {
    TORCH_CHECK_NOT_IMPLEMENTED(
        false,
        "fastdrop.torch: the native CPU op does not support compiled autograd when the "
        "forward ran eagerly; compile the forward too (torch.compile uses fastdrop's "
        "registered op, which does), or set FASTDROP_TORCH_NATIVE=0 before importing "
        "fastdrop.torch");
  }

  void release_variables() override {
    std::lock_guard<std::mutex> lock(mutex_);
    mask_.reset_data();
  }

  torch::autograd::variable_list apply(torch::autograd::variable_list&& grads) override {
    std::lock_guard<std::mutex> lock(mutex_);
    at::Tensor mask = mask_.unpack();  // raises if the graph was already freed
    torch::autograd::variable_list out(1);
    at::Tensor dy = grads[0];
    if (!dy.defined() || !should_compute_output(0)) return out;
    const Consts& c = *c_;
    if (at::GradMode::is_enabled()) {
      // create_graph=True: the registered op, which has its own autograd formula
      static auto op = c10::Dispatcher::singleton()
                           .findSchemaOrThrow("fastdrop::dropout_backward", "")
                           .typed<at::Tensor(const at::Tensor&, const at::Tensor&,
                                             const at::Tensor&, const at::Tensor&, double,
                                             c10::string_view)>();
      out[0] = op.call(dy, mask, at::scalar_tensor(static_cast<int64_t>(seed_), at::kLong),
                       at::scalar_tensor(static_cast<int64_t>(offset_), at::kLong), c.p,
                       c.variant);
      return out;
    }
    // autograd gives dy y's dtype and shape (the node's input metadata), not its layout
    if (!dy.is_contiguous()) dy = dy.contiguous();  // e.g. the expanded ones of .sum()
    const int64_t n = dy.numel();
    at::Tensor dx = empty_cpu(dy.sizes(), dy.scalar_type());
    if (n) {
      const int32_t bmode = static_cast<int32_t>(c.bmode);
      if (mask.numel()) {
        FROM_MASK[kind_](dy.data_ptr(), dx.data_ptr(), mask.data_ptr<uint8_t>(), n, bmode,
                         c.ba, c.bother, streaming(dx));
      } else {
        MASKED[kind_](dy.data_ptr(), dx.data_ptr(), nullptr, n, 0, bmode,
                      static_cast<int32_t>(c.t), c.ba, c.ba, c.bother, k0_, k1_, o0_, o1_,
                      streaming(dx));
      }
    }
    out[0] = dx;
    return out;
  }
};

// y = dropout(x) with autograd: y, the packed mask (or none) and, when x needs a gradient,
// the node that keeps the mask. x: a contiguous CPU float32/float64 tensor.
at::Tensor forward(const ConstsPtr& cp, const at::Tensor& x, uint64_t seed, uint64_t offset) {
  const int kind = kind_of(x);
  const Consts& c = *cp;
  const int64_t n = x.numel();
  at::Tensor y = empty_cpu(x.sizes(), x.scalar_type());
  at::Tensor mask = c.store_mask ? empty_cpu({(n + 7) / 8}, at::kByte) : no_mask();
  const uint64_t k0 = seed & 0xffffffffu, k1 = seed >> 32;
  const uint64_t o0 = offset & 0xffffffffu, o1 = offset >> 32;  // plan.key_words
  if (n) {
    TORCH_CHECK(MASKED[kind] != nullptr, "fastdrop native op: kernels not set");
    MASKED[kind](x.data_ptr(), y.data_ptr(), c.store_mask ? mask.data_ptr<uint8_t>() : nullptr,
                 n, c.store_mask, static_cast<int32_t>(c.fmode), static_cast<int32_t>(c.t),
                 c.fa, c.fb, c.fother, k0, k1, o0, o1, streaming(y));
  }
  if (torch::autograd::compute_requires_grad(x)) {
    auto node = c10::make_intrusive<NativeDropoutBackward>();
    node->set_next_edges(torch::autograd::collect_next_edges(x));
    node->mask_ = torch::autograd::SavedVariable(mask, /*is_output=*/false);
    node->c_ = cp;
    node->kind_ = kind;
    node->k0_ = k0, node->k1_ = k1, node->o0_ = o0, node->o1_ = o1;
    node->seed_ = seed, node->offset_ = offset;
    torch::autograd::set_history(y, node);
  }
  return y;
}

// One (p, variant, store_mask) setting, for float32 and float64: what a fastdrop.torch
// module holds, so that its forward is one call from Python.
class Site {
 public:
  Site(int64_t t, int64_t fmode, double fa32, double fb32, double fother32, double fa64,
       double fb64, double fother64, int64_t bmode, double ba32, double bother32,
       double ba64, double bother64, double p, std::string variant, bool store_mask) {
    c_[0] = std::make_shared<const Consts>(
        Consts{t, fmode, bmode, fa32, fb32, fother32, ba32, bother32, p, variant, store_mask});
    c_[1] = std::make_shared<const Consts>(
        Consts{t, fmode, bmode, fa64, fb64, fother64, ba64, bother64, p, variant, store_mask});
  }

  // Dropout at the module's (seed, offset), advancing the offset buffer by one: both are
  // 0-dim int64 CPU tensors holding uint64 bits. None (and nothing advanced) when x or the
  // buffers are not what this path takes; the caller then takes its general path.
  py::object call(const at::Tensor& x, const at::Tensor& seed, const at::Tensor& offset) {
    if (!takes(x) || !is_word(seed) || !is_word(offset)) return py::none();
    int64_t* off = offset.data_ptr<int64_t>();
    const uint64_t o = static_cast<uint64_t>(*off);
    at::Tensor y = forward(c_[kind_of(x)], x, static_cast<uint64_t>(*seed.data_ptr<int64_t>()), o);
    *off = static_cast<int64_t>(o + 1);  // int64 wraps as the uint64 it holds
    return py::cast(std::move(y));
  }

  // Dropout at an explicit (seed, offset); x as takes() says (checked by the caller).
  at::Tensor apply(const at::Tensor& x, uint64_t seed, uint64_t offset) {
    return forward(c_[kind_of(x)], x, seed, offset);
  }

 private:
  static bool takes(const at::Tensor& x) {
    return x.defined() && x.layout() == at::kStrided && x.device().is_cpu() &&
           (x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble) &&
           x.is_contiguous();
  }
  static bool is_word(const at::Tensor& w) {
    return w.defined() && w.device().is_cpu() && w.scalar_type() == at::kLong &&
           w.numel() == 1;
  }
  ConstsPtr c_[2];
};

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("set_kernels", &set_kernels, "the Numba cfunc addresses and the streaming threshold");
  py::class_<Site>(m, "Site", "one (p, variant, store_mask) setting of the native op")
      .def(py::init<int64_t, int64_t, double, double, double, double, double, double,
                    int64_t, double, double, double, double, double, std::string, bool>())
      .def("__call__", &Site::call, "dropout at the (seed, offset) buffers; advances offset")
      .def("apply", &Site::apply, "dropout at an explicit (seed, offset)");
}
