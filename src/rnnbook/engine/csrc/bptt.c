/* The book's CPU training pass: forward, read-out and backpropagation through time of E
 * vanilla RNNs, one model at a time, for one minibatch each.  Called by rnnbook.cpu_kernel
 * (ctypes); the Python side (rnnbook.model) holds the reference implementation in torch.
 *
 * Model (row vectors, as in rnnbook.model):  h_t = act(u_t W_uh + h_{t-1} W_hh + b_h).
 * Backward (Eqs. 3-5 of the paper, step by step):
 *     dpre_t = dh_t * act'(h_t),   dh_{t-1} = dpre_t W_hh^T (+ direct loss term at t-1),
 *     g_W_hh = sum_t h_{t-1}^T dpre_t,   g_W_uh = sum_t u_t^T dpre_t,   g_b_h = sum_t dpre_t.
 *
 * Why a kernel of its own: torch runs each step as ~7 separate batched calls over all models,
 * so every model's states leave the cache between its forward and its backward pass, and each
 * call pays a dispatch.  Here one model's whole pass runs while its states (T x B x H numbers)
 * stay in the core's L2 cache and its weights in L1, and the matrix products are register-
 * blocked tiles written with GCC/Clang vector extensions (compiled with -march=native).
 *
 * The regularizer Omega (Eqs. 9-10, as the authors' code computes it; rnnbook.regularizer) is
 * accumulated in the same backward pass, and validation's forward pass (predict) is here too.
 *
 * Every number is computed in a fixed order that does not depend on the other models, on the
 * padding, on the vector width or on the machine (given FMA): a model's result is the same alone
 * or in any ensemble.  The weight gradients are summed chunk by chunk (chunks of steps counted
 * from the model's first real step, latest chunk first, earliest step first within a chunk), the
 * read-out's (per-step read-outs) latest step first, each a single chain per output element;
 * row norms (Omega) use a fixed 64-byte slot order.
 *
 * This file defines the float and double versions by including bptt_impl.h twice.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__)
#define VBYTES 64
#define PVMAX 4 /* vectors per tile row: 64 floats */
#define RBMAX 5 /* rows per tile: 5 x 4 accumulators + 4 weights + 1 broadcast <= 32 registers */
#elif defined(__AVX__)
#define VBYTES 32
#define PVMAX 2
#define RBMAX 5 /* 10 + 2 + 1 <= 16 registers */
#elif defined(__aarch64__)
#define VBYTES 16
#define PVMAX 4
#define RBMAX 5
#else
#define VBYTES 16
#define PVMAX 2
#define RBMAX 4
#endif

#define ALIGN_BYTES 64
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define INLINE static inline __attribute__((always_inline))

/* Read-out types, as in rnnbook.tasks */
enum { LAST_SOFTMAX = 0, LAST_LINEAR = 1, SOFTMAX = 2, BERNOULLI = 3 };
#define PER_STEP(r) ((r) == SOFTMAX || (r) == BERNOULLI) /* a loss term at every real step */
enum { ACT_TANH = 0, ACT_SIGMOID = 1 };
enum { OK = 0, ERR_ALIGN = 1, ERR_ARGS = 2 };

int rnnbook_kernel_vector_bytes(void) { return VBYTES; }

#define real float
#define SUF _f32
#define IS_FLOAT 1
#include "bptt_impl.h"
#undef real
#undef SUF
#undef IS_FLOAT

#define real double
#define SUF _f64
#define IS_FLOAT 0
#include "bptt_impl.h"
#undef real
#undef SUF
#undef IS_FLOAT
