"""The UNet stage's learning-rate phases and noisy-timestep sampling (what the shipped run used)."""
import numpy as np

from shapes import train_unet as train


def test_learning_rate_restarts_at_each_phase_and_decays_to_a_tenth():
    steps = train.PHASES[-1][1]
    assert train.learning_rate(0, steps) < 4e-4 * 0.01  # warm-up
    assert abs(train.learning_rate(299, steps) - 4e-4) < 4e-4 * 0.01
    for (start, end, peak, period), nxt in zip(train.PHASES, train.PHASES[1:] + ((None,),)):
        assert train.learning_rate(start, steps) < peak * 0.01  # restart with a warm-up
        assert abs(train.learning_rate(start + 199, steps) - peak) < peak * 0.01
        assert nxt[0] in (end, None), "phases follow each other without a gap"
        if end - start == period:  # a whole cosine ends at a tenth of the peak
            assert abs(train.learning_rate(end - 1, steps) - 0.1 * peak) < peak * 0.01
        else:  # a phase cut short (24,000-30,000 stopped at 28,000) ends where its cosine was, above the floor
            assert train.learning_rate(end - 1, steps) > 0.1 * peak * 1.2
    # the base phase keeps its own cosine however many steps the run has in all
    assert train.learning_rate(11999, steps) == train.learning_rate(11999, train.BASE_STEPS)


def test_noisy_half_of_the_schedule_is_oversampled_after_the_base_phase():
    rng = np.random.default_rng(0)
    before = np.concatenate([train.sample_timesteps(100, 64, rng, "cpu").numpy() for _ in range(50)])
    after = np.concatenate([train.sample_timesteps(train.BASE_STEPS, 64, rng, "cpu").numpy() for _ in range(50)])
    assert 0.45 < (before >= train.HIGH_NOISE_FROM).mean() < 0.55
    assert 0.7 < (after >= train.HIGH_NOISE_FROM).mean() < 0.8
    assert after.min() >= 0 and after.max() < 1000
