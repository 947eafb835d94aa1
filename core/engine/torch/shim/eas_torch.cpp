// eas_torch.cpp: a C ABI over libtorch for eas's "torch" engine backend
// (core/engine/torch loads it at run time with purego). One translation
// unit, built by `make torch` against Debian's libtorch 1.13 or a pip torch
// >= 2; it uses only ATen/c10 calls present in both. It runs whole networks:
// Go describes the graph node by node, then calls forward, loss, backward
// and the SGD step; every call returns 0 or -1 with a message kept in the
// model (eas_model_error), so no C++ exception crosses the boundary.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/DeviceGuard.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <torch/cuda.h>
#include <torch/version.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <dlfcn.h>
#include <link.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

// EAS_TORCH_ABI changes whenever a signature below changes; the Go side
// refuses a shim of another version.
#define EAS_TORCH_ABI 1

namespace {

// Node kinds; the Go side maps core/ir ops to these numbers.
enum Op {
  kInput = 1, kConv = 2, kBN = 3, kReLU = 4, kDropout = 5, kMaxPool = 6, kAvgPool = 7,
  kGAP = 8, kFC = 9, kConcat = 10, kLinear = 11, kAdd = 12, kDWConv = 13,
};

struct Node {
  int op = 0;
  std::vector<int64_t> in;
  int64_t filters = 0, kernel = 0, stride = 1, pad = 0, units = 0, groups = 1;
  bool bias = false;
  float rate = 0;
  at::Tensor p[4];  // conv/fc: weight, bias; bn: weight, bias, running_mean, running_var
};

struct Model {
  at::Device dev = at::Device(at::kCPU);
  std::optional<c10::Stream> stream;
  std::vector<Node> nodes;
  int64_t max_batch = 0, classes = 0, in_c = 0, in_h = 0, in_w = 0;
  uint64_t seed = 0, step = 0;
  float momentum = 0, wd = 0;
  bool nesterov = false;
  std::vector<at::Tensor> out;   // each node's output for the last forward
  at::Tensor logits, loss, loss_sum, correct_sum;
  int64_t batch = 0, loss_n = 0;
  std::vector<at::Tensor> momentum_buf;  // one per trainable tensor, same order as trainable
  std::vector<std::pair<int, int>> trainable;  // (node, slot)
  bool train = false;
  bool stepped = false, inject = false;  // EAS_TORCH_FAIL_MODEL picked this model: its steps fail
  std::string err;
};

thread_local std::string g_err;

void set_err(Model* m, const std::string& e) {
  if (m) m->err = e; else g_err = e;
}

// guarded runs f and turns any exception into -1 and a message.
template <class F>
int guarded(Model* m, const char* what, F f) {
  try {
    if (m && m->inject && std::strcmp(what, "optimiser step") == 0) {
      set_err(m, std::string(what) + ": CUDA error: out of memory (injected by EAS_TORCH_FAIL_MODEL)");
      return -1;
    }
    std::optional<c10::StreamGuard> sg;
    if (m && m->stream) sg.emplace(*m->stream);
    f();
    return 0;
  } catch (const c10::Error& e) {
    std::string s = e.what_without_backtrace();
    set_err(m, std::string(what) + ": " + s.substr(0, s.find('\n')));
  } catch (const std::exception& e) {
    set_err(m, std::string(what) + ": " + e.what());
  }
  return -1;
}

at::TensorOptions f32(const Model* m) { return at::TensorOptions().dtype(at::kFloat).device(m->dev); }

// splitmix is core/nn's dropout hash on int64 tensors (wrapping arithmetic;
// logical shifts as an arithmetic shift and a mask), so both engines drop
// the same units for the same seed and step.
at::Tensor lsr(const at::Tensor& x, int s) {
  return at::bitwise_and(at::__rshift__(x, s), (int64_t)((~0ULL) >> s));
}
at::Tensor splitmix(at::Tensor x) {
  x = x + (int64_t)0x9e3779b97f4a7c15ULL;
  x = at::bitwise_xor(x, lsr(x, 30)) * (int64_t)0xbf58476d1ce4e5b9ULL;
  x = at::bitwise_xor(x, lsr(x, 27)) * (int64_t)0x94d049bb133111ebULL;
  return at::bitwise_xor(x, lsr(x, 31));
}

at::Tensor dropout(Model* m, int id, const at::Tensor& x, float rate) {
  uint64_t base = m->seed * 0x100000001b3ULL ^ m->step << 20 ^ (uint64_t)id << 48;
  auto idx = at::arange(x.numel(), at::TensorOptions().dtype(at::kLong).device(m->dev));
  auto h = splitmix(at::bitwise_xor(idx, (int64_t)base));
  auto keep = lsr(h, 40).to(at::kFloat).ge(rate * 16777216.0f);
  float scale = 1.0f / (1.0f - rate);
  return x * (keep.to(at::kFloat) * scale).view(x.sizes());
}

at::Tensor run_node(Model* m, int id, bool train) {
  Node& n = m->nodes[id];
  const at::Tensor& x = m->out[n.in.empty() ? 0 : n.in[0]];
  switch (n.op) {
    case kConv:
    case kDWConv:
      return at::conv2d(x, n.p[0], n.bias ? n.p[1] : at::Tensor(), {n.stride, n.stride}, {n.pad, n.pad}, {1, 1}, n.groups);
    case kBN:
      return at::batch_norm(x, n.p[0], n.p[1], n.p[2], n.p[3], train, 0.1, 1e-5, true);
    case kReLU:
      return at::relu(x);
    case kDropout:
      return train && n.rate > 0 ? dropout(m, id, x, n.rate) : x.clone();
    case kMaxPool:
      return at::max_pool2d(x, {n.kernel, n.kernel}, {n.stride, n.stride});
    case kAvgPool:
      return at::avg_pool2d(x, {n.kernel, n.kernel}, {n.stride, n.stride});
    case kGAP:
      return x.mean({2, 3}, true);
    case kFC:
    case kLinear: {
      auto y = at::linear(x.flatten(1), n.p[0], n.bias ? n.p[1] : at::Tensor());
      return y.view({y.size(0), y.size(1), 1, 1});
    }
    case kConcat: {
      std::vector<at::Tensor> xs;
      for (auto i : n.in) xs.push_back(m->out[i]);
      return at::cat(xs, 1);
    }
    case kAdd: {
      at::Tensor y = m->out[n.in[0]];
      for (size_t i = 1; i < n.in.size(); i++) y = y + m->out[n.in[i]];
      return n.in.size() == 1 ? y.clone() : y;
    }
  }
  throw std::runtime_error("unknown node kind " + std::to_string(n.op));
}

void copy_out(const at::Tensor& t, float* dst) {
  auto h = t.detach().to(at::kCPU).contiguous();
  std::memcpy(dst, h.data_ptr<float>(), h.numel() * sizeof(float));
}

// host_to_device copies host floats or ints into a device tensor; on CUDA
// through pinned memory, asynchronously. libtorch's caching host allocator
// records the copy, so a pinned block is reused only after its copy ended.
at::Tensor host_to_device(Model* m, const void* src, at::IntArrayRef shape, at::ScalarType t) {
  auto host = at::from_blob(const_cast<void*>(src), shape, at::TensorOptions().dtype(t));
  if (m->dev.is_cpu()) return host.clone();
  auto pinned = at::empty(shape, at::TensorOptions().dtype(t).pinned_memory(true));
  pinned.copy_(host);
  return pinned.to(m->dev, /*non_blocking=*/true);
}

// dl finds sym in a loaded library whose path contains lib (libtorch loads
// the CUDA runtime, driver and cuDNN itself, under names that vary between
// builds; the shim is loaded RTLD_LOCAL, so RTLD_DEFAULT does not see them).
void* dl(const char* lib, const char* sym) {
  struct Q { const char* lib; const char* sym; void* found; } q{lib, sym, nullptr};
  dl_iterate_phdr([](struct dl_phdr_info* info, size_t, void* data) -> int {
    auto q = static_cast<Q*>(data);
    if (!info->dlpi_name || !std::strstr(info->dlpi_name, q->lib)) return 0;
    void* h = dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD);
    if (!h) return 0;
    q->found = dlsym(h, q->sym);
    dlclose(h);
    return q->found ? 1 : 0;
  }, &q);
  return q.found ? q.found : dlsym(RTLD_DEFAULT, sym);
}

int gpu_count() {
  try { return (int)torch::cuda::device_count(); } catch (...) { return 0; }
}

}  // namespace

extern "C" {

int eas_abi_version() { return EAS_TORCH_ABI; }

// eas_versions writes "libtorch=1.13.1 cuda=12.1 cudnn=8902 gpus=1" into buf.
void eas_versions(char* buf, int len) {
  std::string s = std::string("libtorch=") + TORCH_VERSION;
  int gpus = gpu_count();
  if (gpus > 0) {
    int rt = 0;
    if (auto f = (int (*)(int*))dl("libcudart", "cudaRuntimeGetVersion")) f(&rt);
    size_t dnn = 0;
    if (auto f = (size_t (*)())dl("libcudnn", "cudnnGetVersion")) dnn = f();
    s += " cuda=" + std::to_string(rt / 1000) + "." + std::to_string(rt % 1000 / 10) + " cudnn=" + std::to_string(dnn);
  }
  s += " gpus=" + std::to_string(gpus);
  std::snprintf(buf, len, "%s", s.c_str());
}

// eas_gpu_name writes device dev's name (through the driver API libtorch
// loaded); "" when unknown.
void eas_gpu_name(int dev, char* buf, int len) {
  buf[0] = 0;
  auto get = (int (*)(char*, int, int))dl("libcuda.so", "cuDeviceGetName");
  if (get) get(buf, len, dev);
}

// eas_cuda_mem writes free and total bytes of device dev (0 when unknown).
void eas_cuda_mem(int dev, int64_t* free_b, int64_t* total_b) {
  *free_b = *total_b = 0;
  auto set = (int (*)(int))dl("libcudart", "cudaSetDevice");
  auto info = (int (*)(size_t*, size_t*))dl("libcudart", "cudaMemGetInfo");
  if (!set || !info || set(dev) != 0) return;
  size_t f = 0, t = 0;
  if (info(&f, &t) == 0) { *free_b = (int64_t)f; *total_b = (int64_t)t; }
}

void eas_set_threads(int n) {
  if (n > 0) at::set_num_threads(n);
}

const char* eas_last_error() { return g_err.c_str(); }

// eas_model_new: device -1 is the CPU, k >= 0 CUDA device k. Returns NULL
// with eas_last_error set on failure.
void* eas_model_new(int device, int64_t max_batch, int64_t in_c, int64_t in_h, int64_t in_w, int64_t classes, uint64_t seed,
                    float momentum, float wd, int nesterov, int own_stream) {
  auto m = std::make_unique<Model>();
  int rc = guarded(nullptr, "creating a model", [&] {
    if (device >= 0) {
      if (gpu_count() <= device) {
        throw std::runtime_error("no CUDA device " + std::to_string(device) + " (this libtorch sees " +
                                 std::to_string(gpu_count()) + ")");
      }
      m->dev = at::Device(at::kCUDA, (c10::DeviceIndex)device);
      if (own_stream) m->stream = c10::impl::VirtualGuardImpl(at::kCUDA).getStreamFromGlobalPool(m->dev, false);
    }
    m->max_batch = max_batch; m->in_c = in_c; m->in_h = in_h; m->in_w = in_w; m->classes = classes;
    m->seed = seed; m->momentum = momentum; m->wd = wd; m->nesterov = nesterov != 0;
    m->nodes.emplace_back();
    m->nodes[0].op = kInput;
  });
  return rc == 0 ? m.release() : nullptr;
}

void eas_model_free(void* p) { delete static_cast<Model*>(p); }

const char* eas_model_error(void* p) { return static_cast<Model*>(p)->err.c_str(); }

// eas_add_node appends a node; attrs are filters, kernel, stride, pad,
// units, bias, groups.
int eas_add_node(void* p, int op, const int64_t* in, int nin, const int64_t* attrs, float rate) {
  auto m = static_cast<Model*>(p);
  return guarded(m, "adding a node", [&] {
    Node n;
    n.op = op;
    n.in.assign(in, in + nin);
    for (auto i : n.in) {
      if (i < 0 || i >= (int64_t)m->nodes.size()) throw std::runtime_error("node input out of range");
    }
    n.filters = attrs[0]; n.kernel = attrs[1]; n.stride = attrs[2]; n.pad = attrs[3];
    n.units = attrs[4]; n.bias = attrs[5] != 0; n.groups = std::max<int64_t>(attrs[6], 1);
    n.rate = rate;
    m->nodes.push_back(std::move(n));
  });
}

// eas_set_param sets tensor slot of node from host floats; trainable ones
// get gradients and a momentum buffer.
int eas_set_param(void* p, int node, int slot, const int64_t* shape, int ndim, const float* data, int trainable) {
  auto m = static_cast<Model*>(p);
  return guarded(m, "setting a parameter", [&] {
    if (node <= 0 || node >= (int)m->nodes.size() || slot < 0 || slot > 3) throw std::runtime_error("bad parameter slot");
    auto t = at::from_blob(const_cast<float*>(data), at::IntArrayRef(shape, ndim), at::kFloat).to(m->dev, at::kFloat, false, true);
    if (trainable) {
      t.set_requires_grad(true);
      m->trainable.emplace_back(node, slot);
      m->momentum_buf.push_back(at::zeros_like(t));
    }
    m->nodes[node].p[slot] = t;
  });
}

int eas_forward(void* p, const float* x, int64_t b, int train) {
  auto m = static_cast<Model*>(p);
  return guarded(m, "forward", [&] {
    at::AutoGradMode grad(train != 0);
    m->batch = b;
    m->train = train != 0;
    if (train) m->step++;
    m->out.assign(m->nodes.size(), at::Tensor());
    m->out[0] = host_to_device(m, x, {b, m->in_c, m->in_h, m->in_w}, at::kFloat);
    for (int i = 1; i < (int)m->nodes.size(); i++) m->out[i] = run_node(m, i, m->train);
    m->logits = m->out.back().view({b, m->classes});
    m->loss = at::Tensor();
  });
}

int eas_logits(void* p, float* dst) {
  auto m = static_cast<Model*>(p);
  return guarded(m, "reading logits", [&] { copy_out(m->logits, dst); });
}

// loss_of computes the mean cross-entropy (kept for backward) and the
// number of correct predictions, on the device.
at::Tensor loss_of(Model* m, const int32_t* labels) {
  auto y = host_to_device(m, labels, {m->batch}, at::kInt).to(at::kLong);
  at::AutoGradMode grad(m->train);
  m->loss = at::nll_loss(at::log_softmax(m->logits, 1), y);
  return m->logits.detach().argmax(1).eq(y).sum();
}

int eas_loss(void* p, const int32_t* labels, double* loss, int64_t* correct) {
  auto m = static_cast<Model*>(p);
  return guarded(m, "loss", [&] {
    auto c = loss_of(m, labels);
    *loss = m->loss.detach().to(at::kCPU).item<double>();
    *correct = c.to(at::kCPU).item<int64_t>();
  });
}

int eas_add_loss(void* p, const int32_t* labels) {
  auto m = static_cast<Model*>(p);
  return guarded(m, "loss", [&] {
    auto c = loss_of(m, labels);
    auto l = m->loss.detach().to(at::kDouble) * (double)m->batch;
    if (!m->loss_sum.defined()) {
      m->loss_sum = at::zeros({}, at::TensorOptions().dtype(at::kDouble).device(m->dev));
      m->correct_sum = at::zeros({}, at::TensorOptions().dtype(at::kLong).device(m->dev));
    }
    m->loss_sum.add_(l);
    m->correct_sum.add_(c);
    m->loss_n += m->batch;
  });
}

int eas_take_loss(void* p, double* sum, int64_t* correct, int64_t* n) {
  auto m = static_cast<Model*>(p);
  return guarded(m, "reading the loss", [&] {
    *sum = 0; *correct = 0; *n = m->loss_n;
    if (m->loss_sum.defined()) {
      *sum = m->loss_sum.to(at::kCPU).item<double>();
      *correct = m->correct_sum.to(at::kCPU).item<int64_t>();
      m->loss_sum.zero_();
      m->correct_sum.zero_();
    }
    m->loss_n = 0;
  });
}

int eas_backward(void* p) {
  auto m = static_cast<Model*>(p);
  return guarded(m, "backward", [&] {
    if (!m->loss.defined() || !m->loss.requires_grad()) throw std::runtime_error("backward without a training loss");
    for (auto& [n, s] : m->trainable) m->nodes[n].p[s].mutable_grad() = at::Tensor();
    torch::autograd::backward({m->loss});
  });
}

// eas_step is core/engine's SGD: g' = g + wd*w (weights only); v = mu*v + g';
// w -= lr * (nesterov ? g' + mu*v : v).
int eas_step(void* p, float lr) {
  auto m = static_cast<Model*>(p);
  // Error injection for tests: EAS_TORCH_FAIL_MODEL=k makes the k-th model
  // of the process to take an optimiser step fail its steps as a device out
  // of memory would.
  static std::atomic<int64_t> stepping{0};
  if (!m->stepped) {
    m->stepped = true;
    const char* f = std::getenv("EAS_TORCH_FAIL_MODEL");
    m->inject = ++stepping == (f ? std::atoll(f) : 0);
  }
  return guarded(m, "optimiser step", [&] {
    at::NoGradGuard ng;
    for (size_t i = 0; i < m->trainable.size(); i++) {
      auto [n, s] = m->trainable[i];
      auto& w = m->nodes[n].p[s];
      auto g = w.grad();
      if (!g.defined()) continue;
      bool decay = s == 0 && m->nodes[n].op != kBN;
      auto gp = decay && m->wd != 0 ? g + w * m->wd : g;
      auto& v = m->momentum_buf[i];
      v.mul_(m->momentum).add_(gp);
      if (m->nesterov) w.sub_((gp + v * m->momentum) * lr);
      else w.sub_(v * lr);
    }
  });
}

// eas_read writes node's slot tensor (what 0), its gradient (1), its
// momentum (2) or the node's output (3, slot ignored) into dst; n is the
// capacity in floats. Returns the count written, 0 when there is none, -1
// on error.
int64_t eas_read(void* p, int node, int slot, int what, float* dst, int64_t n) {
  auto m = static_cast<Model*>(p);
  int64_t got = 0;
  int rc = guarded(m, "reading a tensor", [&] {
    if (node < 0 || node >= (int)m->nodes.size()) throw std::runtime_error("no such node");
    at::Tensor t;
    if (what == 3) {
      if (node < (int)m->out.size()) t = m->out[node];
    } else if (what == 0) {
      t = m->nodes[node].p[slot];
    } else {
      for (size_t i = 0; i < m->trainable.size(); i++) {
        if (m->trainable[i] == std::make_pair(node, slot)) t = what == 1 ? m->nodes[node].p[slot].grad() : m->momentum_buf[i];
      }
    }
    if (!t.defined()) return;
    if (t.numel() > n) throw std::runtime_error("tensor larger than the buffer");
    copy_out(t, dst);
    got = t.numel();
  });
  return rc == 0 ? got : -1;
}

// eas_set_momentum overwrites the momentum buffer of a trainable tensor.
int eas_set_momentum(void* p, int node, int slot, const float* src, int64_t n) {
  auto m = static_cast<Model*>(p);
  return guarded(m, "setting momentum", [&] {
    at::NoGradGuard ng;
    for (size_t i = 0; i < m->trainable.size(); i++) {
      if (m->trainable[i] != std::make_pair(node, slot)) continue;
      auto& v = m->momentum_buf[i];
      if (v.numel() != n) throw std::runtime_error("momentum of the wrong size");
      v.copy_(at::from_blob(const_cast<float*>(src), v.sizes(), at::kFloat));
    }
  });
}

// eas_sync waits for the model's queued work (for timing).
int eas_sync(void* p) {
  auto m = static_cast<Model*>(p);
  return guarded(m, "synchronising", [&] {
    if (!m->dev.is_cpu()) torch::cuda::synchronize(m->dev.index());
  });
}

}  // extern "C"
