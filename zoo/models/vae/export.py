"""The VAE family's export part (declared in `family.py`): `vae`, with `encode(images)` ->
`{z_mean, z_log_var}`, `decode(z)` -> pixel probabilities (or means) and
`sample(num_samples, seed)`."""

from __future__ import annotations

from zoo.models.savedmodel import attach_variables, new_root


def vae(model, context):
    """The `vae` part of a `VAE` or `Autoencoder` (whose `z_log_var` is zeros)."""
    import tensorflow as tf

    root = new_root()
    reads = attach_variables(root, model, context.weights)
    images = tf.TensorSpec([None, *model.encoder.input.shape[1:]], tf.float32, name="images")
    latent = tf.TensorSpec([None, model.latent_dim], tf.float32, name="z")

    @tf.function(input_signature=[images])
    def encode(x):
        with reads():
            codes = model.encoder(x, training=False)
        return {"z_mean": codes["z_mean"],
                "z_log_var": codes.get("z_log_var", tf.zeros_like(codes["z_mean"]))}

    @tf.function(input_signature=[latent])
    def decode(z):
        with reads():
            return {"images": model.decode(z)}

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name="num_samples"),
                                  tf.TensorSpec([], tf.int64, name="seed")])
    def sample(num_samples, seed):
        z = tf.random.stateless_normal(tf.stack([num_samples, model.latent_dim]),
                                       seed=tf.stack([seed, tf.constant(0, tf.int64)]))
        return decode(z)

    root.encode, root.decode, root.sample = encode, decode, sample
    return root, {"serving_default": encode, "encode": encode, "decode": decode,
                  "sample": sample}


def sample_latents(num_samples: int, latent_dim: int, seed: int):
    """The latent codes the exported `sample(num_samples, seed)` decodes (stateless)."""
    import tensorflow as tf

    return tf.random.stateless_normal([num_samples, latent_dim], seed=[seed, 0])
