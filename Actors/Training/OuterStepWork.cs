using Moe.Actors.Blobs;
using Moe.Model.Training;
using Moe.Model.Training.Rounds;
using static TorchSharp.torch;

namespace Moe.Actors.Training;

/// <summary>
/// The coordinator's heavy lifting, run off the actor's thread: the initial parameters of a job, and a round's
/// outer step (fetch and verify the deltas, average, Nesterov, store the new parameters and momentum).
/// </summary>
internal static class OuterStepWork
{
    public static async Task<BlobRef> InitialParameters(JobSpec spec, IBlobStore blobs, ComputeThread compute, string workDirectory,
        CancellationToken token)
    {
        var file = Path.Combine(workDirectory, $"init-{Guid.NewGuid():N}.params");
        try
        {
            await compute.Run(() =>
            {
                manual_seed(spec.Seed);
                using var model = new Moe.Model.Network.MoeTransformer(spec.Model);
                ParameterFile.Save(file, model.named_parameters().Select(p => (p.name, (Tensor)p.parameter)));
            }).ConfigureAwait(false);
            return await blobs.PutAsync(file, token).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(file);
        }
    }

    public static async Task<(BlobRef Parameters, BlobRef Momentum)> Step(
        JobSpec spec, BlobRef parameters, BlobRef? momentum, IReadOnlyList<BlobRef> deltas, IBlobStore blobs,
        ComputeThread compute, string workDirectory, CancellationToken token)
    {
        var folder = Directory.CreateDirectory(Path.Combine(workDirectory, $"round-{Guid.NewGuid():N}")).FullName;
        try
        {
            var globalFile = Path.Combine(folder, "global");
            await blobs.GetAsync(parameters, globalFile, token).ConfigureAwait(false);
            string? momentumFile = null;
            if (momentum is not null)
            {
                momentumFile = Path.Combine(folder, "momentum");
                await blobs.GetAsync(momentum, momentumFile, token).ConfigureAwait(false);
            }
            var deltaFiles = new List<string>();
            foreach (var delta in deltas)
            {
                var file = Path.Combine(folder, $"delta-{deltaFiles.Count}");
                await blobs.GetAsync(delta, file, token).ConfigureAwait(false);
                deltaFiles.Add(file);
            }

            var newParameters = Path.Combine(folder, "new-global");
            var newMomentum = Path.Combine(folder, "new-momentum");
            await compute.Run(() =>
            {
                using var scope = NewDisposeScope();
                var global = ParameterFile.Load(globalFile);
                var velocity = momentumFile is null ? null : ParameterFile.Load(momentumFile);
                var loaded = deltaFiles.Select(f => (IReadOnlyList<(string, Tensor)>)ParameterFile.Load(f)).ToList();
                var (next, nextVelocity) = OuterNesterov.Step(global, loaded, velocity, spec.OuterLearningRate, spec.OuterMomentum);
                ParameterFile.Save(newParameters, next);
                ParameterFile.Save(newMomentum, nextVelocity);
            }).ConfigureAwait(false);
            return (await blobs.PutAsync(newParameters, token).ConfigureAwait(false),
                await blobs.PutAsync(newMomentum, token).ConfigureAwait(false));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
