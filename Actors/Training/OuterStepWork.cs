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
            // The inputs are fetched (and verified) side by side: the trainers wait for the new parameters.
            var globalFile = Path.Combine(folder, "global");
            var momentumFile = momentum is null ? null : Path.Combine(folder, "momentum");
            var deltaFiles = deltas.Select((_, k) => Path.Combine(folder, $"delta-{k}")).ToList();
            var fetches = deltas.Select((delta, k) => blobs.GetAsync(delta, deltaFiles[k], token)).Append(blobs.GetAsync(parameters, globalFile, token));
            if (momentum is not null)
                fetches = fetches.Append(blobs.GetAsync(momentum, momentumFile!, token));
            await Task.WhenAll(fetches).ConfigureAwait(false);

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
            var stored = await Task.WhenAll(blobs.PutAsync(newParameters, token), blobs.PutAsync(newMomentum, token)).ConfigureAwait(false);
            return (stored[0], stored[1]);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
