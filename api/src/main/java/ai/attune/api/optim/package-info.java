/**
 * Training-loop helpers shared by every optimizer: gradient-norm clipping
 * ({@code torch.nn.utils.clip_grad_norm_}), learning-rate schedules (transformers'
 * {@code get_scheduler}) and the reusable work buffers of an optimizer step. Optimizers
 * themselves are {@link ai.attune.api.spi.Optimizer} plugins.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("0.1.0")
package ai.attune.api.optim;
