import numpy as np
import pytest

import zoo
from zoo.models.vae.vae import kl_divergence


def digits():
    from sklearn.datasets import load_digits

    return (load_digits().images[..., None] / 16.0).astype("float32")


def test_loss_is_reconstruction_plus_kl_reported_separately():
    vae = zoo.build("vae_tiny", image_size=8)
    x = digits()[:64]
    vae.compile(optimizer="adam")
    history = vae.fit(x, batch_size=32, epochs=1, verbose=0, shuffle=False).history
    assert {"loss", "reconstruction_loss", "kl_loss"} <= set(history)
    assert history["loss"][0] == pytest.approx(
        history["reconstruction_loss"][0] + history["kl_loss"][0], rel=1e-5
    )


def test_bernoulli_reconstruction_is_the_binary_cross_entropy_in_nats():
    vae = zoo.build("vae_tiny", image_size=8)
    x = digits()[:4]
    logits = vae(x)["reconstruction_logits"]
    p = 1 / (1 + np.exp(-logits.numpy()))
    expected = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(4, -1).sum(axis=1)
    np.testing.assert_allclose(vae.reconstruction_nats(x, logits).numpy(), expected, rtol=1e-4)


def test_kl_of_the_prior_is_zero_and_positive_elsewhere():
    zeros = np.zeros((2, 8), "float32")
    np.testing.assert_allclose(kl_divergence(zeros, zeros).numpy(), 0.0, atol=1e-7)
    assert (kl_divergence(zeros + 1.0, zeros).numpy() > 0).all()


def test_encode_decode_reconstruct_and_sample():
    vae = zoo.build("vae_tiny", image_size=8)
    x = digits()[:5]
    z_mean, z_log_var = vae.encode(x)
    assert tuple(z_mean.shape) == (5, 8) and tuple(z_log_var.shape) == (5, 8)
    images = vae.decode(z_mean).numpy()
    assert images.shape == (5, 8, 8, 1) and images.min() >= 0 and images.max() <= 1
    np.testing.assert_allclose(vae.reconstruct(x).numpy(), images, atol=1e-6)
    samples = vae.sample(3, seed=7).numpy()
    assert samples.shape == (3, 8, 8, 1)
    np.testing.assert_allclose(vae.sample(3, seed=7).numpy(), samples)
    assert vae.negative_elbo(x).shape == (5,)


def test_autoencoder_reuses_the_same_encoder_and_decoder():
    vae = zoo.build("vae_tiny", image_size=8)
    ae = zoo.build("ae_tiny", image_size=8)
    assert [w.shape for w in ae.decoder.weights] == [w.shape for w in vae.decoder.weights]
    vae_only = {w.path.split("/")[-2] for w in vae.encoder.weights} - {
        w.path.split("/")[-2] for w in ae.encoder.weights
    }
    assert vae_only == {"z_log_var"}
    assert tuple(ae.reconstruct(digits()[:2]).shape) == (2, 8, 8, 1)
    assert not hasattr(ae, "sample")


def test_gaussian_likelihood_learns_its_scale():
    vae = zoo.build("vae_tiny", image_size=8, likelihood="gaussian")
    before = float(vae.log_sigma.numpy())
    vae.compile(optimizer="adam")
    vae.fit(digits()[:128], batch_size=32, epochs=2, verbose=0)
    assert float(vae.log_sigma.numpy()) != before
