/* One precision of the kernel; included by bptt.c with `real`, SUF and IS_FLOAT defined. */
#define TYPED(name) CAT(name, SUF)
#define LANES ((int)(VBYTES / sizeof(real))) /* lanes per vector */
typedef real TYPED(vec_t) __attribute__((vector_size(VBYTES)));
#define VEC TYPED(vec_t)
#define LOAD(p) (*(const VEC *)(p))
#define STORE(p, x) (*(VEC *)(p) = (x))

/* ---------------------------------------------------------------------------------------- */
/* Activations on whole vectors                                                              */
/* ---------------------------------------------------------------------------------------- */
#if IS_FLOAT
typedef int32_t TYPED(ivec_t) __attribute__((vector_size(VBYTES)));
#define IVEC TYPED(ivec_t)

/* exp(x) (Cephes expf: Cody-Waite reduction, degree-6 polynomial; ~1 ulp) for x clamped to
 * [-87.3, 88] (so 0 and +inf come out as ~1e-38 and ~1.7e38); NaN gives NaN. */
INLINE VEC TYPED(exp_v)(VEC x) {
    const VEC lo = (VEC){0} - 87.3f, hi = (VEC){0} + 88.0f;
    IVEC under = x < lo, over = x > hi; /* false for NaN */
    x = (VEC)((under & (IVEC)lo) | (~under & (IVEC)x));
    x = (VEC)((over & (IVEC)hi) | (~over & (IVEC)x));
    VEC n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
    VEC r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    VEC p = 1.9875691500e-4f * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    IVEC bits = (__builtin_convertvector(n, IVEC) + 127) << 23;
    return p * (VEC)bits;
}

/* tanh(x): the odd rational minimax approximation of degrees 13/6 that Eigen, XLA and MLAS use,
 * on x clamped to +-7.90531110763549805 (where tanh rounds to +-1 in float32). Odd in x, so small
 * arguments keep their relative accuracy. Within 5 ulp of tanh in float32 (measured by
 * tests/test_cpu_kernel.py); saturates at +-(1 - 2^-22); NaN gives NaN. */
INLINE VEC TYPED(tanh_v)(VEC x) {
    const VEC hi = (VEC){0} + 7.90531110763549805f, lo = -hi;
    IVEC over = x > hi, under = x < lo; /* false for NaN: NaN passes through */
    x = (VEC)((over & (IVEC)hi) | (~over & (IVEC)x));
    x = (VEC)((under & (IVEC)lo) | (~under & (IVEC)x));
    const VEC z = x * x;
    VEC p = -2.76076847742355e-16f * z + 2.00018790482477e-13f;
    p = p * z - 8.60467152213735e-11f;
    p = p * z + 5.12229709037114e-08f;
    p = p * z + 1.48572235717979e-05f;
    p = p * z + 6.37261928875436e-04f;
    p = p * z + 4.89352455891786e-03f;
    p = p * x;
    VEC q = 1.19825839466702e-06f * z + 1.18534705686654e-04f;
    q = q * z + 2.26843463243900e-03f;
    q = q * z + 4.89352518554385e-03f;
    return p / q;
}

INLINE VEC TYPED(act_v)(VEC x, int act) {
    if (act == ACT_TANH) return TYPED(tanh_v)(x);
    return 1.0f / (1.0f + TYPED(exp_v)(-x));
}
#else
/* double precision: the C library's functions, lane by lane (used by the tests' float64) */
INLINE VEC TYPED(act_v)(VEC x, int act) {
    real a[VBYTES / sizeof(real)];
    memcpy(a, &x, sizeof a);
    for (int i = 0; i < LANES; i++) a[i] = act == ACT_TANH ? tanh(a[i]) : 1.0 / (1.0 + exp(-a[i]));
    memcpy(&x, a, sizeof a);
    return x;
}
#endif

/* act'(x) expressed through h = act(x): tanh 1 - h^2, sigmoid h (1 - h) */
INLINE VEC TYPED(act_grad_v)(VEC h, int act) {
    if (act == ACT_TANH) return 1 - h * h;
    return h * (1 - h);
}

/* ---------------------------------------------------------------------------------------- */
/* Register tiles: acc[r][v] += sum_k A(r, k) W[k, v-th vector], rb rows, pv vectors          */
/* ---------------------------------------------------------------------------------------- */
INLINE void TYPED(accum)(const int rb, const int pv, VEC acc[RBMAX][PVMAX], long K, const real *A, long ars,
                     long aks, const real *W, long wrs) {
    for (long k = 0; k < K; k++) {
        VEC w[PVMAX];
        for (int v = 0; v < pv; v++) w[v] = LOAD(W + k * wrs + v * LANES);
        for (int r = 0; r < rb; r++) {
            const real a = A[r * ars + k * aks];
            for (int v = 0; v < pv; v++) acc[r][v] += a * w[v];
        }
    }
}

/* Forward tile: out = act(bias + u W_uh [+ h_prev W_hh]); u(r, i) = u[r * urs + i * uis] */
INLINE void TYPED(tile_forward)(const int rb, const int pv, int act, const real *bias, int n_in, const real *u, long urs,
                            long uis, const real *W_uh, int H, const real *h_prev, const real *W_hh, long HP,
                            real *out) {
    VEC acc[RBMAX][PVMAX];
    for (int v = 0; v < pv; v++) {
        const VEC b = LOAD(bias + v * LANES);
        for (int r = 0; r < rb; r++) acc[r][v] = b;
    }
    TYPED(accum)(rb, pv, acc, n_in, u, urs, uis, W_uh, HP);
    if (h_prev) TYPED(accum)(rb, pv, acc, H, h_prev, HP, 1, W_hh, HP);
    for (int r = 0; r < rb; r++)
        for (int v = 0; v < pv; v++) STORE(out + r * HP + v * LANES, TYPED(act_v)(acc[r][v], act));
}

/* Backward tile: dpre_prev = (dpre W_hh^T [+ direct]) * act'(h_prev); for Omega (v_out, dh_out
 * not NULL) also v = dpre W_hh^T and dh = v [+ direct]. The direct term is added after the product
 * either way, so dh is the same number with or without Omega: a model's gradients do not depend
 * on whether its ensemble computes Omega. */
INLINE void TYPED(tile_backward)(const int rb, const int pv, const int omega, int act, const real *direct, int H,
                             const real *dpre, const real *W_hh_T, const real *h_prev, long HP, real *out,
                             real *v_out, real *dh_out) {
    VEC acc[RBMAX][PVMAX];
    for (int r = 0; r < rb; r++)
        for (int v = 0; v < pv; v++) acc[r][v] = (VEC){0};
    TYPED(accum)(rb, pv, acc, H, dpre, HP, 1, W_hh_T, HP);
    for (int r = 0; r < rb; r++)
        for (int v = 0; v < pv; v++) {
            if (omega) STORE(v_out + r * HP + v * LANES, acc[r][v]);
            if (direct) acc[r][v] += LOAD(direct + r * HP + v * LANES);
            if (omega) STORE(dh_out + r * HP + v * LANES, acc[r][v]);
            STORE(out + r * HP + v * LANES, acc[r][v] * TYPED(act_grad_v)(LOAD(h_prev + r * HP + v * LANES), act));
        }
}

/* Product tile: out = A W, or out += A W (accumulate), A(r, k) = A[r * ars + k * aks] */
INLINE void TYPED(tile_product)(const int rb, const int pv, long K, const real *A, long ars, long aks, const real *W,
                            long HP, real *out, int accumulate) {
    VEC acc[RBMAX][PVMAX];
    for (int r = 0; r < rb; r++)
        for (int v = 0; v < pv; v++) acc[r][v] = accumulate ? LOAD(out + r * HP + v * LANES) : (VEC){0};
    TYPED(accum)(rb, pv, acc, K, A, ars, aks, W, HP);
    for (int r = 0; r < rb; r++)
        for (int v = 0; v < pv; v++) STORE(out + r * HP + v * LANES, acc[r][v]);
}

/* Call TILE(rb, pv, ...) with compile-time rb <= RBMAX and pv <= PVMAX (switch of literals) */
#define CASE(RB, PV, TILE, ...) case (RB) * 8 + (PV): TILE(RB, PV, __VA_ARGS__); break;
#define CASES_PV(RB, TILE, ...) CASE(RB, 1, TILE, __VA_ARGS__) CASE(RB, 2, TILE, __VA_ARGS__) \
    CASE(RB, 3, TILE, __VA_ARGS__) CASE(RB, 4, TILE, __VA_ARGS__)
#define DISPATCH(rb, pv, TILE, ...) switch ((rb) * 8 + (pv)) { \
    CASES_PV(1, TILE, __VA_ARGS__) CASES_PV(2, TILE, __VA_ARGS__) CASES_PV(3, TILE, __VA_ARGS__) \
    CASES_PV(4, TILE, __VA_ARGS__) CASES_PV(5, TILE, __VA_ARGS__) default: break; }

/* Loop over the tiles of an R x HP output; BODY sees r0 (row), c0 (column) and rb, pv */
#define FOR_TILES(R, NV, BODY) \
    for (int r0 = 0; r0 < (R); r0 += RBMAX) { \
        const int rb = (R) - r0 < RBMAX ? (R) - r0 : RBMAX; \
        for (int p0 = 0; p0 < (NV); p0 += PVMAX) { \
            const int pv = (NV) - p0 < PVMAX ? (NV) - p0 : PVMAX; \
            const long c0 = (long)p0 * LANES; \
            BODY \
        } \
    }

static void TYPED(forward_step)(int act, int B, int H, long HP, int NV, int n_in, const real *bias, const real *u,
                            long urs, long uis, const real *W_uh, const real *h_prev, const real *W_hh, real *out) {
    FOR_TILES(B, NV, {
        DISPATCH(rb, pv, TYPED(tile_forward), act, bias + c0, n_in, u + r0 * urs, urs, uis, W_uh + c0, H,
                 h_prev ? h_prev + r0 * HP : 0, W_hh + c0, HP, out + r0 * HP + c0)
    })
}

/* dpre_{t-1} for all B rows from dpre_t; omega (a compile-time constant where it is inlined):
 * also v and dh */
INLINE void TYPED(backward_tiles)(const int omega, int act, int B, int H, long HP, int NV, const real *direct,
                              const real *dpre, const real *W_hh_T, const real *h_prev, real *out, real *v_out,
                              real *dh_out) {
    FOR_TILES(B, NV, {
        DISPATCH(rb, pv, TYPED(tile_backward), omega, act, direct ? direct + r0 * HP + c0 : 0, H, dpre + r0 * HP,
                 W_hh_T + c0, h_prev + r0 * HP + c0, HP, out + r0 * HP + c0, omega ? v_out + r0 * HP + c0 : 0,
                 omega ? dh_out + r0 * HP + c0 : 0)
    })
}

/* v_out and dh_out (Omega) may be NULL; each case gets its own compiled loop */
static void TYPED(backward_step)(int act, int B, int H, long HP, int NV, const real *direct, const real *dpre,
                             const real *W_hh_T, const real *h_prev, real *out, real *v_out, real *dh_out) {
    if (v_out && dh_out)
        TYPED(backward_tiles)(1, act, B, H, HP, NV, direct, dpre, W_hh_T, h_prev, out, v_out, dh_out);
    else
        TYPED(backward_tiles)(0, act, B, H, HP, NV, direct, dpre, W_hh_T, h_prev, out, 0, 0);
}

/* ||row||^2 over HP numbers, in an order that does not depend on the vector width: column j
 * accumulates into slot j mod CANON (CANON numbers = 64 bytes), then the slots are added in order */
#define CANON ((int)(64 / sizeof(real)))
static real TYPED(sum_squares)(const real *row, long HP) {
    real slot[CANON];
    for (int i = 0; i < CANON; i++) slot[i] = 0;
    for (long j0 = 0; j0 < HP; j0 += CANON)
        for (int i = 0; i < CANON; i++) slot[i] += row[j0 + i] * row[j0 + i];
    real total = 0;
    for (int i = 0; i < CANON; i++) total += slot[i];
    return total;
}
#undef CANON

/* out (R x HP) = A W (or += with accumulate), A(r, k) = A[r * ars + k * aks], k < K */
static void TYPED(product)(int R, long HP, int NV, long K, const real *A, long ars, long aks, const real *W,
                       real *out, int accumulate) {
    FOR_TILES(R, NV, {
        DISPATCH(rb, pv, TYPED(tile_product), K, A + r0 * ars, ars, aks, W + c0, HP, out + r0 * HP + c0, accumulate)
    })
}

/* ---------------------------------------------------------------------------------------- */
/* Read-outs (§9.7): loss, logits, dloss/dlogits and the output layer's gradients            */
/* ---------------------------------------------------------------------------------------- */
#if IS_FLOAT
#define EXP expf
#define LOG logf
#define LOG1P log1pf
#else
#define EXP exp
#define LOG log
#define LOG1P log1p
#endif

/* logits (B x O) = h W_hy + b_y, h rows of stride HP */
static void TYPED(logits_of)(int B, int H, int O, long HP, const real *h, const real *W_hy, const real *b_y,
                         real *logits) {
    for (int b = 0; b < B; b++) {
        real *l = logits + (long)b * O;
        for (int o = 0; o < O; o++) l[o] = b_y[o];
        for (int k = 0; k < H; k++) {
            const real a = h[b * HP + k];
            const real *w = W_hy + (long)k * O;
            for (int o = 0; o < O; o++) l[o] += a * w[o];
        }
    }
}

/* Cross-entropy of class targets, each row's loss scaled by `weight`: returns the summed loss
 * (rows in order) and writes dlogits = weight (softmax - onehot). */
static real TYPED(cross_entropy)(int B, int O, const real *logits, const int64_t *target, real weight, real *dlogits) {
    real total = 0;
    for (int b = 0; b < B; b++) {
        const real *l = logits + (long)b * O;
        real *d = dlogits + (long)b * O;
        real m = l[0];
        for (int o = 1; o < O; o++) m = l[o] > m ? l[o] : m;
        real s = 0;
        for (int o = 0; o < O; o++) s += EXP(l[o] - m);
        const real lse = m + LOG(s);
        total += (lse - l[target[b]]) * weight;
        for (int o = 0; o < O; o++) d[o] = EXP(l[o] - lse) * weight;
        d[target[b]] -= weight;
    }
    return total;
}

/* One independent Bernoulli per output (the 88 keys of a piano roll), each row's loss scaled by
 * `weight`: returns the summed -log p(row) = sum_o softplus(l_o) - y_o l_o (rows in order) and
 * writes dlogits = weight (sigmoid(l) - y). */
static real TYPED(bernoulli_nll)(int B, int O, const real *logits, const real *target, real weight, real *dlogits) {
    real total = 0;
    for (int b = 0; b < B; b++) {
        const real *l = logits + (long)b * O, *y = target + (long)b * O;
        real *d = dlogits + (long)b * O;
        real row = 0;
        for (int o = 0; o < O; o++) {
            const real x = l[o], z = EXP(-(x < 0 ? -x : x)); /* softplus(x) = max(x, 0) + log1p(e^-|x|) */
            row += (x > 0 ? x : 0) + LOG1P(z) - y[o] * x;
            const real sig = x >= 0 ? 1 / (1 + z) : z / (1 + z);
            d[o] = (sig - y[o]) * weight;
        }
        total += row * weight;
    }
    return total;
}

/* A per-step read-out's loss at step t of model e, and its dlogits */
static real TYPED(step_loss)(int readout, int B, int O, const real *logits, const int64_t *target_idx,
                             const real *target_val, long e, long t, int T, real weight, real *dlogits) {
    if (readout == BERNOULLI)
        return TYPED(bernoulli_nll)(B, O, logits, target_val + ((e * T + t) * B) * (long)O, weight, dlogits);
    return TYPED(cross_entropy)(B, O, logits, target_idx + (e * T + t) * B, weight, dlogits);
}

/* The output layer's share of one step: g_W_hy += h^T d, g_b_y += sum_b d, direct = d W_hy^T */
static void TYPED(output_backward)(int B, int H, int O, long HP, const real *h, const real *d, const real *W_hy,
                               real *g_W_hy, real *g_b_y, real *direct) {
    for (int b = 0; b < B; b++) {
        const real *db = d + (long)b * O;
        for (int k = 0; k < H; k++) {
            const real a = h[b * HP + k];
            real *g = g_W_hy + (long)k * O;
            for (int o = 0; o < O; o++) g[o] += a * db[o];
        }
        for (int o = 0; o < O; o++) g_b_y[o] += db[o];
        for (int k = 0; k < H; k++) {
            const real *w = W_hy + (long)k * O;
            real s = 0;
            for (int o = 0; o < O; o++) s += db[o] * w[o];
            direct[b * HP + k] = s;
        }
        for (long k = H; k < HP; k++) direct[b * HP + k] = 0;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* The whole pass                                                                            */
/* ---------------------------------------------------------------------------------------- */
static long TYPED(round_up)(long n) {
    const long q = ALIGN_BYTES / (long)sizeof(real);
    return (n + q - 1) / q * q;
}

/* A model's recurrent weights, rows padded to HP columns with zeros (W_hh_T: NULL to skip) */
static void TYPED(pad_weights)(int n_in, int H, long HP, const real *wuh, const real *whh, const real *bh, real *Wuh,
                           real *Whh, real *WhhT, real *bias) {
    memset(Whh, 0, sizeof(real) * H * HP);
    memset(Wuh, 0, sizeof(real) * n_in * HP);
    memset(bias, 0, sizeof(real) * HP);
    if (WhhT) memset(WhhT, 0, sizeof(real) * H * HP);
    for (int i = 0; i < H; i++)
        for (int j = 0; j < H; j++) {
            Whh[i * HP + j] = whh[i * H + j];
            if (WhhT) WhhT[j * HP + i] = whh[i * H + j];
        }
    for (int i = 0; i < n_in; i++) memcpy(Wuh + i * HP, wuh + (long)i * H, sizeof(real) * H);
    memcpy(bias, bh, sizeof(real) * H);
}

/* Scratch numbers needed (plus alignment slack the caller adds) */
long TYPED(rnnbook_scratch_size)(int T, int B, int n_in, int H, int O, int chunk) {
    const long HP = TYPED(round_up)(H), ring = 2L * chunk * B * HP;
    return 2 * TYPED(round_up)(H * HP) + TYPED(round_up)(n_in * HP) + TYPED(round_up)(HP) + TYPED(round_up)((long)T * B * HP)
           + 2 * TYPED(round_up)(ring) + TYPED(round_up)(B * HP) + 2 * TYPED(round_up)(H * HP) + TYPED(round_up)(n_in * HP)
           + TYPED(round_up)((long)T * B * n_in) + TYPED(round_up)((long)B * O) + TYPED(round_up)(B * HP) + 2 * TYPED(round_up)(B)
           + TYPED(round_up)((long)T * B);
}

/*
 * For e < E, with model e's weights W_uh (n_in x H), W_hh (H x H), b_h (H), W_hy (H x O), b_y (O),
 * all contiguous and stacked over e, and its inputs u(e, t, b, i) = u[e*su0 + t*su1 + b*su2 + i*su3]:
 * loss[e], logits (E x B x O, or E x T x B x O for SOFTMAX and BERNOULLI) and the five gradients
 * (same shapes as the weights).  Targets: class indices target_idx (E x B, or E x T x B) or real
 * values target_val (E x B x O; BERNOULLI: 0/1 keys, E x T x B x O).  Steps t < start[e] are padding: h_t = 0 there (as in rnnbook.model).
 * With reg_weight (E numbers; NULL: none) also the regularizer Omega[e] (Eqs. 9-10 as the authors'
 * code computes them, rnnbook.regularizer), and reg_weight[e] * d+Omega/dW_hh is added to g_W_hh
 * where reg_weight[e] != 0; `bound` is the code's threshold on ||dE/dh_k||^2.
 */
int TYPED(rnnbook_loss_and_grads)(int E, int T, int B, int n_in, int H, int O, int act, int readout,
                              const real *W_uh, const real *W_hh, const real *b_h, const real *W_hy, const real *b_y,
                              const real *u, long su0, long su1, long su2, long su3,
                              const int64_t *target_idx, const real *target_val, const int64_t *start,
                              real *loss, real *logits, real *g_W_uh, real *g_W_hh, real *g_b_h, real *g_W_hy,
                              real *g_b_y, const real *reg_weight, double bound, real *omega, int chunk,
                              real *scratch) {
    if (E < 0 || T < 1 || B < 1 || n_in < 1 || H < 1 || O < 1 || chunk < 1) return ERR_ARGS;
    if ((uintptr_t)scratch % ALIGN_BYTES) return ERR_ALIGN;
    const long HP = TYPED(round_up)(H);
    const int NV = (int)(HP / LANES);
    const long TBH = (long)T * B * HP, BH = (long)B * HP;
    real *p = scratch;
    real *Whh = p; p += TYPED(round_up)(H * HP);      /* W_hh, rows padded to HP with zeros */
    real *WhhT = p; p += TYPED(round_up)(H * HP);     /* W_hh^T, padded */
    real *Wuh = p; p += TYPED(round_up)(n_in * HP);   /* W_uh, padded */
    real *bias = p; p += TYPED(round_up)(HP);         /* b_h, padded */
    real *states = p; p += TYPED(round_up)(TBH);      /* h_t, t < T: (T, B, HP) */
    /* Steps are taken in chunks of `chunk` (counted from the model's first real step); the weight
     * gradients of a chunk are formed as soon as its dpre are known, while they are in cache, and
     * dpre and Omega's v live in a ring of two chunks: (2 chunk, B, HP) each. */
    const long ring = 2L * chunk * BH;
    real *dpre_ring = p; p += TYPED(round_up)(ring);  /* dpre_t */
    real *v_ring = p; p += TYPED(round_up)(ring);     /* Omega: v_t = dpre_t W_hh^T, then scaled by c_t */
    real *direct = p; p += TYPED(round_up)(BH);       /* a step's direct dloss/dh_t: (B, HP) */
    real *g_hh = p; p += TYPED(round_up)(H * HP);     /* sum h_{t-1}^T dpre_t so far, padded */
    real *g_om = p; p += TYPED(round_up)(H * HP);     /* Omega: sum c_t v_t^T dpre_t so far, padded */
    real *g_in = p; p += TYPED(round_up)(n_in * HP);  /* sum u_t^T dpre_t so far, padded */
    real *ub = p; p += TYPED(round_up)((long)T * B * n_in); /* the model's inputs, contiguous (T, B, n_in) */
    real *dlog = p; p += TYPED(round_up)((long)B * O); /* one step's dloss/dlogits: (B, O) */
    real *dhrow = p; p += TYPED(round_up)(BH);        /* Omega: dh_{t-1} */
    real *s_cur = p; p += TYPED(round_up)(B);         /* Omega: ||dh_t||^2 */
    real *s_next = p; p += TYPED(round_up)(B);        /* Omega: ||dh_{t-1}||^2 */
    real *devs = p;                               /* Omega: r/s - 1 where counted, else 0: (T, B) */
    const int with_omega = reg_weight != 0;

    for (int e = 0; e < E; e++) {
        const real *wuh = W_uh + (long)e * n_in * H, *whh = W_hh + (long)e * H * H, *bh = b_h + (long)e * H;
        const real *why = W_hy + (long)e * H * O, *by = b_y + (long)e * O;
        real *gwuh = g_W_uh + (long)e * n_in * H, *gwhh = g_W_hh + (long)e * H * H, *gbh = g_b_h + (long)e * H;
        real *gwhy = g_W_hy + (long)e * H * O, *gby = g_b_y + (long)e * O;
        const long s = start[e] < 0 ? 0 : start[e];

        TYPED(pad_weights)(n_in, H, HP, wuh, whh, bh, Wuh, Whh, WhhT, bias);
        const real *ue = u + e * su0;
        for (long t = s; t < T; t++)
            for (int b = 0; b < B; b++)
                for (int i = 0; i < n_in; i++) ub[(t * B + b) * n_in + i] = ue[t * su1 + b * su2 + i * su3];

        /* forward: h_t for s <= t < T (h_{s-1} = 0) */
        for (long t = s; t < T; t++)
            TYPED(forward_step)(act, B, H, HP, NV, n_in, bias, ub + t * B * n_in, n_in, 1, Wuh,
                            t > s ? states + (t - 1) * BH : 0, Whh, states + t * BH);
        if (s >= T) memset(states + (T - 1) * BH, 0, sizeof(real) * BH); /* no real step at all */

        /* read-out and the seed of the backward recursion */
        memset(gwhy, 0, sizeof(real) * H * O);
        memset(gby, 0, sizeof(real) * O);
        real *le = logits + (long)e * (PER_STEP(readout) ? T : 1) * B * O;
        const real *h_last = states + (T - 1) * BH;
        real total = 0;
        const real w_step = s < T ? (real)1 / ((real)(T - s) * B) : 0; /* per step: mean over real steps x batch */
        if (PER_STEP(readout)) {
            for (long t = 0; t < s && t < T; t++)  /* padding steps: h = 0, logits = b_y */
                for (int b = 0; b < B; b++) memcpy(le + (t * B + b) * O, by, sizeof(real) * O);
            for (long t = s; t < T; t++) { /* losses summed in step order */
                TYPED(logits_of)(B, H, O, HP, states + t * BH, why, by, le + t * B * O);
                total += TYPED(step_loss)(readout, B, O, le + t * B * O, target_idx, target_val, e, t, T, w_step, dlog);
            }
            /* each step's dlogits are formed again where the backward loop needs them */
        } else {
            TYPED(logits_of)(B, H, O, HP, h_last, why, by, le);
            if (readout == LAST_SOFTMAX) {
                total = TYPED(cross_entropy)(B, O, le, target_idx + (long)e * B, (real)1 / B, dlog);
            } else {
                const real *y = target_val + (long)e * B * O;
                for (int b = 0; b < B; b++)
                    for (int o = 0; o < O; o++) {
                        const real diff = le[b * O + o] - y[b * O + o];
                        total += diff * diff / B;
                        dlog[b * O + o] = diff * ((real)2 / B);
                    }
            }
        }
        loss[e] = total;

        memset(gwhh, 0, sizeof(real) * H * H);
        memset(gwuh, 0, sizeof(real) * n_in * H);
        memset(gbh, 0, sizeof(real) * H);
        if (with_omega) omega[e] = 0;
        if (s >= T) continue;

        /* backward recursion, latest step first: dpre_{T-1}, then dpre_{t-1} from dpre_t */
#define SLOT(t) (((((t) - s) / chunk) % 2 * chunk + ((t) - s) % chunk) * BH) /* step t's place in a ring */
        memset(g_hh, 0, sizeof(real) * H * HP);
        memset(g_in, 0, sizeof(real) * n_in * HP);
        if (with_omega) memset(g_om, 0, sizeof(real) * H * HP);
        long n_counted = 0;
        for (long t = T - 1; t >= s; t--) {
            real *dpre_t = dpre_ring + SLOT(t);
            if (t == T - 1) { /* dpre_{T-1} = dh_{T-1} act'(h_{T-1}), dh_{T-1} = dlogits W_hy^T */
                if (PER_STEP(readout))
                    TYPED(step_loss)(readout, B, O, le + t * B * O, target_idx, target_val, e, t, T, w_step, dlog);
                TYPED(output_backward)(B, H, O, HP, h_last, dlog, why, gwhy, gby, direct);
                for (long i = 0; i < BH; i += LANES)
                    STORE(dpre_t + i, LOAD(direct + i) * TYPED(act_grad_v)(LOAD(states + t * BH + i), act));
                if (with_omega)
                    for (int b = 0; b < B; b++) s_cur[b] = TYPED(sum_squares)(direct + b * HP, HP);
            }
            real *v_t = v_ring + SLOT(t);
            if (t > s) { /* dpre_{t-1} = (dpre_t W_hh^T + direct_{t-1}) act'(h_{t-1}) */
                const real *dir_prev = 0;
                if (PER_STEP(readout)) { /* the loss at step t-1 reaches h_{t-1} directly */
                    TYPED(step_loss)(readout, B, O, le + (t - 1) * B * O, target_idx, target_val, e, t - 1, T, w_step,
                                     dlog);
                    TYPED(output_backward)(B, H, O, HP, states + (t - 1) * BH, dlog, why, gwhy, gby, direct);
                    dir_prev = direct;
                }
                real *dpre_prev = dpre_ring + SLOT(t - 1);
                TYPED(backward_step)(act, B, H, HP, NV, dir_prev, dpre_t, WhhT, states + (t - 1) * BH, dpre_prev,
                                 with_omega ? v_t : 0, with_omega ? dhrow : 0);
                if (with_omega)
                    for (int b = 0; b < B; b++) s_next[b] = TYPED(sum_squares)(dhrow + b * HP, HP);
            } else if (with_omega) { /* the first real step: v_s is not part of the recursion */
                TYPED(product)(B, HP, NV, H, dpre_t, HP, 1, WhhT, v_t, 0);
            }
            if (with_omega) { /* Omega's terms at step t: r = ||v_t||^2, s = ||dh_t||^2 */
                for (int b = 0; b < B; b++) {
                    real *v = v_t + b * HP;
                    const real r = TYPED(sum_squares)(v, HP), sq = s_cur[b];
                    real dev = 0, c = 0;
                    if (sq >= (real)bound) { /* false for NaN, as in torch */
                        dev = r / sq - 1;
                        c = dev / sq;
                        n_counted++;
                    }
                    devs[t * B + b] = dev;
                    for (long j = 0; j < HP; j++) v[j] *= c; /* c v_t: the immediate gradient's left factor */
                }
                real *swap = s_cur;
                s_cur = s_next;
                s_next = swap;
            }
            if ((t - s) % chunk == 0) { /* the chunk [t, t1) is complete: its weight gradients */
                const long t1 = t + chunk < T ? t + chunk : T, first = t > s ? t : s + 1;
                const real *dp = dpre_ring + SLOT(t);
                if (t1 > first) /* g_W_hh += sum_{first <= t' < t1} h_{t'-1}^T dpre_t' */
                    TYPED(product)(H, HP, NV, (t1 - first) * B, states + (first - 1) * BH, 1, HP, dp + (first - t) * BH,
                               g_hh, 1);
                TYPED(product)(n_in, HP, NV, (t1 - t) * B, ub + t * B * n_in, 1, n_in, dp, g_in, 1);
                for (long r = 0; r < (t1 - t) * B; r++)
                    for (int j = 0; j < H; j++) gbh[j] += dp[r * HP + j];
                if (with_omega && reg_weight[e] != 0)
                    TYPED(product)(H, HP, NV, (t1 - t) * B, v_ring + SLOT(t), 1, HP, dp, g_om, 1);
            }
        }
#undef SLOT
        for (int i = 0; i < H; i++) memcpy(gwhh + (long)i * H, g_hh + i * HP, sizeof(real) * H);
        for (int i = 0; i < n_in; i++) memcpy(gwuh + (long)i * H, g_in + i * HP, sizeof(real) * H);

        if (with_omega) { /* Omega = sum_k mean_b dev^2 / sum_k mean_b counted; d+Omega = 4/(B N) sum c v^T z */
            real total = 0;
            for (long t = s; t < T; t++) {
                real step = 0;
                for (int b = 0; b < B; b++) step += devs[t * B + b] * devs[t * B + b];
                total += step;
            }
            const real normaliser = (real)n_counted / B, safe = normaliser > 0 ? normaliser : 1;
            omega[e] = total / B / safe;
            const real w = reg_weight[e];
            if (w != 0) {
                const real scale = (real)4 / (B * safe);
                for (int i = 0; i < H; i++)
                    for (int j = 0; j < H; j++) gwhh[(long)i * H + j] += w * (g_om[i * HP + j] * scale);
            }
        }
    }
    return OK;
}

/* Read-out logits only (validation): E x B x O, or E x T x B x O for SOFTMAX; two state buffers */
long TYPED(rnnbook_predict_scratch_size)(int B, int n_in, int H) {
    const long HP = TYPED(round_up)(H);
    return TYPED(round_up)(H * HP) + TYPED(round_up)(n_in * HP) + TYPED(round_up)(HP) + 2 * TYPED(round_up)((long)B * HP);
}

int TYPED(rnnbook_predict)(int E, int T, int B, int n_in, int H, int O, int act, int readout, const real *W_uh,
                       const real *W_hh, const real *b_h, const real *W_hy, const real *b_y, const real *u, long su0,
                       long su1, long su2, long su3, const int64_t *start, real *logits, real *scratch) {
    if (E < 0 || T < 1 || B < 1 || n_in < 1 || H < 1 || O < 1) return ERR_ARGS;
    if ((uintptr_t)scratch % ALIGN_BYTES) return ERR_ALIGN;
    const long HP = TYPED(round_up)(H), BH = (long)B * HP;
    const int NV = (int)(HP / LANES);
    real *p = scratch;
    real *Whh = p; p += TYPED(round_up)(H * HP);
    real *Wuh = p; p += TYPED(round_up)(n_in * HP);
    real *bias = p; p += TYPED(round_up)(HP);
    real *h[2] = {p, p + TYPED(round_up)(BH)};
    for (int e = 0; e < E; e++) {
        const real *why = W_hy + (long)e * H * O, *by = b_y + (long)e * O;
        TYPED(pad_weights)(n_in, H, HP, W_uh + (long)e * n_in * H, W_hh + (long)e * H * H, b_h + (long)e * H, Wuh, Whh,
                       0, bias);
        const long s = start[e] < 0 ? 0 : start[e];
        real *le = logits + (long)e * (PER_STEP(readout) ? T : 1) * B * O;
        if (PER_STEP(readout))
            for (long t = 0; t < s && t < T; t++)
                for (int b = 0; b < B; b++) memcpy(le + (t * B + b) * O, by, sizeof(real) * O);
        if (s >= T) memset(h[(T - 1) % 2], 0, sizeof(real) * BH);
        for (long t = s; t < T; t++) {
            TYPED(forward_step)(act, B, H, HP, NV, n_in, bias, u + e * su0 + t * su1, su2, su3, Wuh,
                            t > s ? h[(t - 1) % 2] : 0, Whh, h[t % 2]);
            if (PER_STEP(readout)) TYPED(logits_of)(B, H, O, HP, h[t % 2], why, by, le + t * B * O);
        }
        if (!PER_STEP(readout)) TYPED(logits_of)(B, H, O, HP, h[(T - 1) % 2], why, by, le);
    }
    return OK;
}

#undef TYPED
#undef LANES
#undef VEC
#undef IVEC
#undef LOAD
#undef STORE
#undef EXP
#undef LOG
#undef LOG1P
#undef CASE
#undef CASES_PV
#undef DISPATCH
#undef FOR_TILES
