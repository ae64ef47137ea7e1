#!/usr/bin/python3
"""Independent implementation of Warden's cryptographic sortition
(docs/PROTOCOL.md "Sortition") in Python with the standard library only.

It takes VRF outputs (beta) as input instead of computing the VRF, and
writes the known-answer vectors the C unit test checks
(tests/vectors/sortition.txt): the alpha string of each role, the count j
and the priority for chosen (w, W, tau, beta), betas placed exactly on the
edges of the fixed-point CDF intervals, and a digest over the counts of the
statistical test's first seeds. ctest re-runs it and compares, so the C
code, this script and the document cannot drift apart.

With --check it instead proves the documented error bound: for a grid of
weights it compares the fixed-point CDF with the exact rational binomial CDF
(integers and fractions, no floats) and fails if any difference is negative
or above the bound; it also re-derives the chi-square critical values the C
statistical test tabulates.

With --count it re-checks one selection by hand: given the claimant's
weight, the total weight, tau and the beta that `wardenctl vrf verify`
printed, it prints j and the priority.

Usage: sortition_vectors.py [OUTPUT]    (default: standard output)
       sortition_vectors.py --check
       sortition_vectors.py --count w W tau BETA_HEX
"""
import hashlib
import math
import sys
from fractions import Fraction

ALPHA_TAG = b"warden/1\x00sortition\x00"
ROLES = {"proposer": 1, "verifier": 2, "executor": 3}
TAU_MAX = 4096
MANT_BITS = 128          # mantissa of the software float: 2^127 <= m < 2^128
U_BITS = 128             # beta[0..16) read big-endian: u = U / 2^128


def alpha(chain_id, role, seed, height, round_, subject=bytes(32)):
    """The VRF input: fixed 128 bytes."""
    return (ALPHA_TAG + chain_id + bytes([ROLES[role]]) + seed
            + height.to_bytes(8, "big") + round_.to_bytes(4, "big") + subject)


# ---- the software float: value = m * 2^e, every result truncated ----------

def norm(t, e):
    """Normalises a positive integer t * 2^e to a 128-bit mantissa,
    truncating (rounding toward zero) the bits shifted out."""
    assert t > 0
    s = t.bit_length() - MANT_BITS
    return (t >> s, e + s) if s >= 0 else (t << -s, e + s)


def from_int(n):
    return norm(n, 0)


def mul(a, b):
    return norm(a[0] * b[0], a[1] + b[1])


def div_int(a, n):
    return norm((a[0] << 64) // n, a[1] - 64)


def power(x, n):
    """x^n for n >= 1: bits of n from the least significant; squares the
    base only while bits remain."""
    r = None
    b = x
    while True:
        if n & 1:
            r = b if r is None else mul(r, b)
        n >>= 1
        if n == 0:
            return r
        b = mul(b, b)


def fix(a):
    """floor(value * 2^128): values here are below 1, so e <= -128."""
    m, e = a
    sh = -(e + U_BITS)
    assert sh >= 0
    return m >> sh if sh < MANT_BITS else 0


def cap(tau):
    return 2 * tau + 64


def check_inputs(w, W, tau):
    if W == 0 or w > W or W >= 1 << 64:
        raise ValueError("weight")
    if tau == 0 or tau > TAU_MAX:
        raise ValueError("tau")


def cdf_fixed(w, W, tau):
    """The fixed-point CDF values CDF_f(0..K-1) the count search walks (the
    general case only: 1 <= w, tau < W)."""
    x = div_int(from_int(W - tau), W)
    q = div_int(from_int(tau), W - tau)
    K = min(w, cap(tau))
    out = []
    c = 0
    p = power(x, w)
    for k in range(K):
        c += fix(p)
        out.append(c)
        if k + 1 < K:
            p = div_int(mul(mul(p, q), from_int(w - k)), k + 1)
    return out, K


def count(w, W, tau, beta):
    check_inputs(w, W, tau)
    if w == 0:
        return 0
    if tau >= W:
        return w
    u = int.from_bytes(beta[:16], "big")
    x = div_int(from_int(W - tau), W)
    q = div_int(from_int(tau), W - tau)
    K = min(w, cap(tau))
    c = 0
    p = power(x, w)
    for k in range(K):
        c += fix(p)
        assert c < 1 << 128
        if u < c:
            return k
        if k + 1 < K:
            p = div_int(mul(mul(p, q), from_int(w - k)), k + 1)
    return K


def priority(beta, j):
    if j == 0:
        return b"\xff" * 32
    return min(hashlib.sha256(beta + i.to_bytes(8, "big")).digest() for i in range(1, j + 1))


def stat_beta(seed, node):
    """The betas of the statistical test: SHA-512(u64 seed || u32 node)."""
    return hashlib.sha512(seed.to_bytes(8, "big") + node.to_bytes(4, "big")).digest()


# The statistical test's main run (tests/unit/test_cons_sortition.c).
STAT_WEIGHTS = [1000, 2000, 3000, 5000, 8000, 13000, 21000, 34000, 55000, 89000]
STAT_TAU = 7
DIGEST_SEEDS = 1000


def run_digest():
    W = sum(STAT_WEIGHTS)
    h = hashlib.sha256()
    for s in range(DIGEST_SEEDS):
        for i, w in enumerate(STAT_WEIGHTS):
            h.update(count(w, W, STAT_TAU, stat_beta(s, i)).to_bytes(8, "big"))
    return h.digest()


# ---- vectors -------------------------------------------------------------

PARAMS = [
    # (w, W, tau): edge cases first
    (0, 10, 5),                      # no weight: never selected
    (1, 1, 1),                       # tau >= W: every sub-user selected
    (7, 10, 10),                     # tau == W
    (3, 10, 4096),                   # tau > W
    (10, 10, 9),                     # p = 0.9, w = W
    (5, 11, 10),                     # p close to 1
    (1, 2, 1),                       # p = 1/2, one sub-user
    (100, 100, 7),                   # w = W: committee of a sole node
    (1, 1000, 1),                    # tiny weight
    (1000, 231000, 7),               # statistical test's lightest node
    (89000, 231000, 7),              # and heaviest
    (1, (1 << 64) - 1, 1),           # largest W, smallest w
    ((1 << 64) - 1, (1 << 64) - 1, 1),       # largest w
    ((1 << 63) + 12345, (1 << 64) - 1, 4096),  # huge w, large tau
    (1 << 40, 1 << 41, 26),
    (1000000, 1000000, 4096),        # (1-p)^w far below 2^-128
    (8191, 8191, 4096),              # p just above 1/2, long search
    (8000, 8191, 4096),
    (3, 4, 3),                       # p = 3/4: P(0) tiny relative
]


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        sys.exit(check())
    if len(sys.argv) == 6 and sys.argv[1] == "--count":
        w, W, tau = (int(a) for a in sys.argv[2:5])
        beta = bytes.fromhex(sys.argv[5])
        if len(beta) != 64:
            sys.exit("beta must be 64 bytes (128 hex digits)")
        j = count(w, W, tau, beta)
        print("count %d\npriority %s" % (j, priority(beta, j).hex()))
        return
    out = open(sys.argv[1], "w") if len(sys.argv) > 1 else sys.stdout
    w_ = out.write
    w_("# Warden sortition known answers, generated by\n")
    w_("# tests/vectors/sortition_vectors.py (independent Python implementation of\n")
    w_("# docs/PROTOCOL.md \"Sortition\", exact integer arithmetic).\n")
    chain = bytes([0xc4] * 32)
    seed = bytes(range(0x20, 0x40))
    subject = bytes(range(0xa0, 0xc0))
    w_("chain=%s\n" % chain.hex())
    w_("seed=%s\n" % seed.hex())
    w_("subject=%s\n" % subject.hex())
    w_("# height 1000000, round 3\n")
    w_("alpha_proposer=%s\n" % alpha(chain, "proposer", seed, 1000000, 3).hex())
    w_("alpha_verifier=%s\n" % alpha(chain, "verifier", seed, 1000000, 3, subject).hex())
    w_("alpha_executor=%s\n" % alpha(chain, "executor", seed, 1000000, 3, subject).hex())
    w_("# SHA-256 over u64 BE counts, seeds 0..%d x %d nodes, weights %s, tau %d,\n"
       % (DIGEST_SEEDS - 1, len(STAT_WEIGHTS), ",".join(map(str, STAT_WEIGHTS)), STAT_TAU))
    w_("# beta = SHA-512(u64 BE seed || u32 BE node)\n")
    w_("stat_digest=%s\n" % run_digest().hex())
    w_("# case w W tau beta j priority\n")
    n = 0
    for (w, W, tau) in PARAMS:
        betas = [hashlib.sha512(b"warden sortition vector %d" % (n + i)).digest()
                 for i in range(4)]
        n += 4
        betas.append(bytes(64))                 # u = 0: the first interval
        betas.append(b"\xff" * 64)              # u at the top: the last
        if 1 <= w and tau < W:
            cdf, K = cdf_fixed(w, W, tau)
            tail = hashlib.sha512(b"tail %d %d %d" % (w, W, tau)).digest()[:48]
            # Both sides of interval edges (the first non-empty ones, the
            # two around the median, the last two, which end at the cap or
            # at w), so any bit of difference in the CDF shows up as a
            # wrong count.
            nonzero = [c for c in cdf if c > 0]
            median = [i for i, c in enumerate(cdf) if c >= 1 << 127][:1]
            mid = cdf[max(median[0] - 1, 0):median[0] + 1] if median else []
            edges = sorted(set(nonzero[:4] + mid + cdf[-2:]) - {0})
            for c in edges:
                betas.append((c - 1).to_bytes(16, "big") + tail)
                betas.append(c.to_bytes(16, "big") + tail)
        for beta in betas:
            j = count(w, W, tau, beta)
            w_("case %d %d %d %s %d %s\n" % (w, W, tau, beta.hex(), j, priority(beta, j).hex()))


# ---- --check: the fixed-point CDF against the exact one -----------------

def exact_check(w, W, tau):
    """For every k the search visits: 0 <= CDF(k) - CDF_f(k)/2^128 <= bound,
    bound = (2w + 4k) 2^-127 + (k+1) 2^-128 = B(k) 2^-128. Exact integers
    throughout: CDF(k) = num / W^w with num = sum of C(w,i) tau^i (W-tau)^(w-i).
    Returns the largest difference as a fraction of the bound, or None."""
    cdf, K = cdf_fixed(w, W, tau)
    den = W ** w
    term = (W - tau) ** w
    num = 0
    worst = Fraction(0)
    for k in range(K):
        num += term
        gap = (num << 128) - cdf[k] * den          # (CDF - CDF_f / 2^128) 2^128 W^w
        B = 2 * (2 * w + 4 * k) + k + 1
        if gap < 0 or gap > B * den:
            print("FAIL w=%d W=%d tau=%d k=%d" % (w, W, tau, k))
            return None
        ratio = Fraction(gap * 1000000 // (B * den), 1000000)
        worst = max(worst, ratio)
        if k + 1 < w:
            # C(w,k+1) tau^(k+1) (W-tau)^(w-k-1) is an integer: exact division
            term = term * (w - k) * tau // ((k + 1) * (W - tau))
    return worst


def chi2_sf(x, df):
    """Upper tail of the chi-square distribution (closed forms)."""
    if df % 2 == 0:
        t = x / 2
        s, term = 0.0, 1.0
        for i in range(df // 2):
            if i:
                term *= t / i
            s += term
        return math.exp(-t) * s
    s = math.erfc(math.sqrt(x / 2))
    term = math.sqrt(2 * x / math.pi) * math.exp(-x / 2)
    for i in range(1, (df - 1) // 2 + 1):
        s += term
        term *= x / (2 * i + 1)
    return s


def check():
    grid = []
    for W in (2, 3, 7, 10, 64, 100, 1000, 4097, 65536, 1 << 40, (1 << 64) - 1):
        for tau in (1, 2, 7, 26, 100, 1000, 4096):
            if tau >= W:
                continue
            for w in (1, 2, 3, 10, 50, 200, 1000):
                if w <= W:
                    grid.append((w, W, tau))
    # (1-p)^w far below 2^-128 with a long walk
    grid += [(3000, 3000, 1000), (5000, 5000, 2000)]
    worst = Fraction(0)
    for (w, W, tau) in grid:
        r = exact_check(w, W, tau)
        if r is None:
            return 1
        worst = max(worst, r)
    print("cdf: %d parameter sets within the bound (largest difference %.3g of the bound)"
          % (len(grid), float(worst)))
    # Tail beyond the cap: P(X >= K+1) <= e^-tau (e tau / (K+1))^(K+1) for
    # lambda <= tau (Chernoff); the worst tau.
    worst_tail = max(-t + (cap(t) + 1) * (1 + math.log(t / (cap(t) + 1)))
                     for t in range(1, TAU_MAX + 1)) / math.log(2)
    print("tail beyond the cap: < 2^%.1f" % worst_tail)
    if worst_tail > -110:
        return 1
    # The C test's tabulated chi-square critical values at alpha = 0.001.
    for df, crit in ((9, 27.877), (10, 29.588)):
        p = chi2_sf(crit, df)
        print("chi2 df=%d crit=%.3f upper tail %.6f" % (df, crit, p))
        if abs(p - 0.001) > 2e-6:
            return 1
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    main()
