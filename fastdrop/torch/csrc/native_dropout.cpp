// fastdrop.torch's native eager op: dropout of a contiguous CPU float32/float64 tensor as a
// C++ autograd Function whose forward and backward call fastdrop's Numba kernels through
// C function pointers (Numba cfuncs made in fastdrop/torch/native.py). No Python runs
// between autograd and the kernels: what a Python autograd.Function costs per call
// (about 27-31 us for an empty one here, NOTES.md) is what this saves.
//
// The kernels, the Plan (threshold t, scales, Philox key and counter words) and so the
// bits are fastdrop's: Python computes the Plan and passes its numbers in; this file only
// allocates y, the packed mask and dx and calls the kernels. Double backward
// (create_graph=True) goes through the registered op fastdrop::dropout_backward.
#include <torch/extension.h>

#include <cstdint>
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

// cpu.streaming(): non-temporal stores for outputs of STREAM_FROM_BYTES and more, 16-byte
// aligned.
int32_t streaming(const at::Tensor& y) {
  return y.nbytes() >= static_cast<size_t>(STREAM_FROM_BYTES) &&
         reinterpret_cast<uintptr_t>(y.data_ptr()) % 16 == 0;
}

int64_t as_i64(uint64_t u) { return static_cast<int64_t>(u); }

class NativeDropout : public torch::autograd::Function<NativeDropout> {
 public:
  // f*: the forward's mode and constants, b*: the backward's (cpu._elementwise and
  // cpu.backward choose them from the variant; native.py passes them in).
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            int64_t t, int64_t fmode, double fa, double fb, double fother,
                            int64_t bmode, double ba, double bother, uint64_t k0,
                            uint64_t k1, uint64_t o0, uint64_t o1, bool store_mask,
                            uint64_t seed, uint64_t offset, double p,
                            const std::string& variant) {
    const int kind = kind_of(x);
    const int64_t n = x.numel();
    at::Tensor y = at::empty_like(x, at::MemoryFormat::Contiguous);
    at::Tensor mask = at::empty({store_mask ? (n + 7) / 8 : 0}, x.options().dtype(at::kByte));
    if (n) {
      TORCH_CHECK(MASKED[kind] != nullptr, "fastdrop native op: kernels not set");
      MASKED[kind](x.data_ptr(), y.data_ptr(), store_mask ? mask.data_ptr<uint8_t>() : nullptr,
                   n, store_mask, static_cast<int32_t>(fmode), static_cast<int32_t>(t), fa,
                   fb, fother, k0, k1, o0, o1, streaming(y));
    }
    ctx->save_for_backward({mask});
    // three entries, not one per number: each is a string key hashed and an IValue made
    ctx->saved_data["i"] = std::vector<int64_t>{t, bmode, as_i64(k0), as_i64(k1), as_i64(o0),
                                                as_i64(o1), as_i64(seed), as_i64(offset)};
    ctx->saved_data["f"] = std::vector<double>{ba, bother, p};
    ctx->saved_data["v"] = variant;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    at::Tensor mask = ctx->get_saved_variables()[0];
    at::Tensor dy = grads[0];
    torch::autograd::variable_list out(18);  // one per forward argument
    if (!dy.defined()) return out;
    auto& d = ctx->saved_data;
    const auto i = d["i"].toIntVector();  // t, bmode, k0, k1, o0, o1, seed, offset
    const auto f = d["f"].toDoubleVector();  // ba, bother, p
    if (at::GradMode::is_enabled()) {
      // create_graph=True: the registered op, which has its own autograd formula
      static auto op = c10::Dispatcher::singleton()
                           .findSchemaOrThrow("fastdrop::dropout_backward", "")
                           .typed<at::Tensor(const at::Tensor&, const at::Tensor&,
                                             const at::Tensor&, const at::Tensor&, double,
                                             c10::string_view)>();
      const std::string variant = d["v"].toStringRef();
      out[0] = op.call(dy, mask, at::scalar_tensor(i[6], at::kLong),
                       at::scalar_tensor(i[7], at::kLong), f[2], variant);
      return out;
    }
    dy = dy.contiguous();
    const int kind = kind_of(dy);
    const int64_t n = dy.numel();
    at::Tensor dx = at::empty_like(dy, at::MemoryFormat::Contiguous);
    if (n) {
      const int32_t bmode = static_cast<int32_t>(i[1]);
      if (mask.numel()) {
        FROM_MASK[kind](dy.data_ptr(), dx.data_ptr(), mask.data_ptr<uint8_t>(), n, bmode, f[0],
                        f[1], streaming(dx));
      } else {
        MASKED[kind](dy.data_ptr(), dx.data_ptr(), nullptr, n, 0, bmode,
                     static_cast<int32_t>(i[0]), f[0], f[0], f[1], static_cast<uint64_t>(i[2]),
                     static_cast<uint64_t>(i[3]), static_cast<uint64_t>(i[4]),
                     static_cast<uint64_t>(i[5]), streaming(dx));
      }
    }
    out[0] = dx;
    return out;
  }
};

at::Tensor dropout(const at::Tensor& x, int64_t t, int64_t fmode, double fa, double fb,
                   double fother, int64_t bmode, double ba, double bother, uint64_t k0,
                   uint64_t k1, uint64_t o0, uint64_t o1, bool store_mask, uint64_t seed,
                   uint64_t offset, double p, const std::string& variant) {
  return NativeDropout::apply(x, t, fmode, fa, fb, fother, bmode, ba, bother, k0, k1, o0,
                              o1, store_mask, seed, offset, p, variant);
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("set_kernels", &set_kernels, "the Numba cfunc addresses and the streaming threshold");
  m.def("dropout", &dropout, "dropout of a contiguous CPU tensor, with autograd");
}
