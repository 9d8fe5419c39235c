using Moe.Model.Data;
using Moe.Model.Network;

namespace Moe.Model.Inference;

/// <summary>A model loaded from its folder for inference, with its vocabulary and where it came from.</summary>
/// <param name="Provenance">The safetensors metadata: the job and round it was exported from, among others.</param>
public sealed record TrainedModel(MoeTransformer Model, Vocabulary Vocabulary, IReadOnlyDictionary<string, string> Provenance, string Folder) : IDisposable
{
    public void Dispose() => Model.Dispose();
}
