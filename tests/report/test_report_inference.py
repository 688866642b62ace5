"""fastdrop.results.inference against published values: the t CDF against t tables,
the paired t test against Student's sleep data (R: t.test(..., paired = TRUE)), TOST at its
boundary, Holm, the exact sign test and the binomial half-width."""

import math

import pytest

from fastdrop.results import inference as I
from fastdrop.results.stats import t_cdf, t_quantile

# (t, df, P(T <= t)) from any table of Student's t
T_TABLE = [(2.228139, 10, 0.975), (1.812461, 10, 0.95), (3.169273, 10, 0.995),
           (-2.570582, 5, 0.025), (0.0, 5, 0.5), (1.383029, 9, 0.90), (12.706205, 1, 0.975)]


@pytest.mark.parametrize("t,df,p", T_TABLE)
def test_t_cdf_matches_tables(t, df, p):
    assert t_cdf(t, df) == pytest.approx(p, abs=2e-7)


# Cushny & Peebles via Student (1908): extra sleep, drug 2 minus drug 1, ten patients
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_paired_t_matches_r_on_the_sleep_data():
    d = I.paired(SLEEP_2, SLEEP_1, margin=1.0)
    # R: t = 4.0621, df = 9, p-value = 0.002833, 95% CI 0.7001142 2.4598858
    assert d.n == 10 and d.mean == pytest.approx(1.58)
    assert d.p == pytest.approx(0.002833, abs=2e-6)
    assert d.mean - d.ci == pytest.approx(0.7001142, abs=1e-6)
    assert d.mean + d.ci == pytest.approx(2.4598858, abs=1e-6)
    assert d.p_equiv > 0.5  # a 1.58 mean difference is not within +-1


def test_tost_is_005_when_the_90_ci_touches_the_margin():
    d = I.paired(SLEEP_2, SLEEP_1, margin=1.0)
    se = d.sd / math.sqrt(d.n)
    upper90 = d.mean + t_quantile(0.95, d.n - 1) * se
    at = I.paired(SLEEP_2, SLEEP_1, margin=upper90)
    assert at.p_equiv == pytest.approx(0.05, abs=1e-9)
    assert I.paired(SLEEP_2, SLEEP_1, margin=upper90 * 1.01).p_equiv < 0.05


def test_paired_exact_and_degenerate_cases():
    null = I.paired([0.7, 0.8, 0.9], [0.7, 0.8, 0.9], margin=0.01)
    assert null.mean == 0 and null.ci == 0 and null.p == 1.0 and null.p_equiv == 0.0
    shift = I.paired([0.75, 0.5], [0.5, 0.25], margin=0.01)
    assert shift.p == 0.0 and shift.p_equiv == 1.0
    one = I.paired([0.8, None], [0.7, 0.7], margin=0.01)  # a missing seed is dropped
    assert one.n == 1 and one.ci is None and one.p is None
    assert I.paired([None], [0.1], margin=0.01) is None
    with pytest.raises(ValueError, match="margin"):
        I.paired([1, 2], [1, 2], margin=0)
    with pytest.raises(ValueError, match="equal lengths"):
        I.paired([1, 2], [1], margin=1)


def test_holm():
    assert I.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert I.holm([0.5, None, 0.001]) == [pytest.approx(0.5), None, pytest.approx(0.002)]
    assert I.holm([0.9, 0.3]) == pytest.approx([0.9, 0.6])  # monotone in the sorted order
    assert I.holm([0.9, 0.8]) == [1.0, 1.0]  # never above 1


def test_sign_test_and_binomial():
    assert I.sign_test(9, 1) == pytest.approx(22 / 1024)
    assert I.sign_test(5, 5) == 1.0 and I.sign_test(0, 0) == 1.0
    assert I.sign_test(10, 0) == pytest.approx(2 / 1024)
    assert I.binomial_halfwidth(0.65, 1000) == pytest.approx(1.96 * math.sqrt(0.65 * 0.35
                                                                            / 1000), rel=1e-3)
    with pytest.raises(ValueError, match="n must be"):
        I.binomial_halfwidth(0.5, 0)


def test_welch_relative():
    r, h = I.welch_relative([2.0, 2.2, 2.1], [1.0, 1.1, 1.05])
    assert r == pytest.approx(1.0, abs=1e-9) and 0 < h < 0.3
    assert I.welch_relative([1.0, 1.0], [1.0, 1.0]) == (0.0, 0.0)
    assert I.welch_relative([1.0], [1.0, 2.0]) is None
