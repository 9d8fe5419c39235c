using System.Text.Json;
using System.Text.Json.Serialization;
using Moe.Model.Data;
using Moe.Model.IO;
using Moe.Model.Network;
using static TorchSharp.torch;

namespace Moe.Model.Training;

/// <summary>
/// A training checkpoint is a folder <c>step-NNNNNNN</c> holding the model, the optimiser state, every router's
/// state (q or bias), and the step, data position and configuration; <c>manifest.json</c>, written last, lists
/// each file's SHA-256. The folder is assembled under a temporary name, flushed to disk and renamed, then the
/// <c>latest</c> pointer is replaced atomically. Loading verifies every hash first and refuses on any mismatch.
/// </summary>
public static class Checkpoint
{
    private const int FormatVersion = 1;
    private const string Latest = "latest";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    private sealed record TrainingState(int Version, int Step, long DataPosition, MoeModelConfig Model, TrainingConfig Training);

    /// <summary>Writes a checkpoint of the loop's current state under <paramref name="root"/>; returns its folder.</summary>
    public static string Save(TrainingLoop loop, string root)
    {
        var final = FolderManifest.Publish(Path.Combine(root, $"step-{loop.Step:D7}"), staging =>
        {
            FolderManifest.WriteFile(staging, "model.bin", stream =>
            {
                using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
                loop.Model.save(writer);
            });
            FolderManifest.WriteFile(staging, "optimizer.bin", stream =>
            {
                using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
                loop.Optimizer.save_state_dict(writer);
            });
            FolderManifest.WriteFile(staging, "routers.bin", stream => WriteRouters(loop, stream));
            var state = new TrainingState(FormatVersion, loop.Step, loop.Sampler.Position, loop.Model.Config, loop.Training);
            FolderManifest.WriteFile(staging, "state.json", stream => JsonSerializer.Serialize(stream, state, Json));
        });
        AtomicFile.Write(Path.Combine(root, Latest), System.Text.Encoding.UTF8.GetBytes(Path.GetFileName(final)));
        return final;
    }

    /// <summary>The folder that <c>latest</c> names under <paramref name="root"/>, or null when there is none.</summary>
    public static string? FindLatest(string root)
    {
        var pointer = Path.Combine(root, Latest);
        return File.Exists(pointer) ? Path.Combine(root, File.ReadAllText(pointer).Trim()) : null;
    }

    /// <summary>Restores a training loop from a checkpoint folder, after verifying it whole.</summary>
    public static TrainingLoop Load(string folder, TokenDataset data)
    {
        Verify(folder);
        var state = JsonSerializer.Deserialize<TrainingState>(File.ReadAllText(Path.Combine(folder, "state.json")), Json)
            ?? throw new CheckpointException($"{folder}: state.json is empty.");
        if (state.Version != FormatVersion)
            throw new CheckpointException($"{folder}: checkpoint format {state.Version}, this program reads {FormatVersion}.");

        var loop = new TrainingLoop(state.Model, state.Training, data);
        try
        {
            using (var stream = File.OpenRead(Path.Combine(folder, "model.bin")))
                loop.Model.load(stream);
            using (var reader = new BinaryReader(File.OpenRead(Path.Combine(folder, "optimizer.bin"))))
                loop.Optimizer.load_state_dict(reader);
            using (var stream = File.OpenRead(Path.Combine(folder, "routers.bin")))
                ReadRouters(loop, stream, folder);
            loop.Step = state.Step;
            loop.Sampler.Position = state.DataPosition;
            return loop;
        }
        catch
        {
            loop.Dispose();
            throw;
        }
    }

    /// <summary>Checks that the manifest exists and every file in it has its recorded size and SHA-256.</summary>
    public static void Verify(string folder) =>
        FolderManifest.Verify(folder, "checkpoint", ["model.bin", "optimizer.bin", "routers.bin", "state.json"], message => new CheckpointException(message));

    private static void WriteRouters(TrainingLoop loop, Stream stream)
    {
        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        writer.Write(loop.Model.MoeLayers.Count);
        foreach (var layer in loop.Model.MoeLayers)
        {
            var state = layer.Router.State?.cpu().data<float>().ToArray() ?? [];
            writer.Write(state.Length);
            foreach (var v in state)
                writer.Write(v);
        }
    }

    private static void ReadRouters(TrainingLoop loop, Stream stream, string folder)
    {
        using var reader = new BinaryReader(stream);
        var layers = reader.ReadInt32();
        if (layers != loop.Model.MoeLayers.Count)
            throw new CheckpointException($"{folder}: routers.bin holds {layers} layers, the model has {loop.Model.MoeLayers.Count}.");
        foreach (var layer in loop.Model.MoeLayers)
        {
            var values = new float[reader.ReadInt32()];
            for (var k = 0; k < values.Length; k++)
                values[k] = reader.ReadSingle();
            if (values.Length > 0)
            {
                using var state = tensor(values);
                layer.Router.LoadState(state);
            }
        }
    }
}
