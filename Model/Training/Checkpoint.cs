using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Moe.Model.Data;
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
    private const string Manifest = "manifest.json";
    private const string Latest = "latest";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    private sealed record TrainingState(int Version, int Step, long DataPosition, MoeModelConfig Model, TrainingConfig Training);

    private sealed record ManifestEntry(string File, long Bytes, string Sha256);

    /// <summary>Writes a checkpoint of the loop's current state under <paramref name="root"/>; returns its folder.</summary>
    public static string Save(TrainingLoop loop, string root)
    {
        Directory.CreateDirectory(root);
        var final = Path.Combine(root, $"step-{loop.Step:D7}");
        var staging = Directory.CreateDirectory(Path.Combine(root, $".partial-{Guid.NewGuid():N}")).FullName;
        try
        {
            Write(staging, "model.bin", stream =>
            {
                using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
                loop.Model.save(writer);
            });
            Write(staging, "optimizer.bin", stream =>
            {
                using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
                loop.Optimizer.save_state_dict(writer);
            });
            Write(staging, "routers.bin", stream => WriteRouters(loop, stream));
            var state = new TrainingState(FormatVersion, loop.Step, loop.Sampler.Position, loop.Model.Config, loop.Training);
            Write(staging, "state.json", stream => JsonSerializer.Serialize(stream, state, Json));

            var entries = Directory.GetFiles(staging).Order(StringComparer.Ordinal)
                .Select(f => new ManifestEntry(Path.GetFileName(f), new FileInfo(f).Length, Hash(f))).ToArray();
            Write(staging, Manifest, stream => JsonSerializer.Serialize(stream, entries, Json));

            if (Directory.Exists(final))
                Directory.Delete(final, recursive: true);
            Directory.Move(staging, final);
            AtomicFile.Write(Path.Combine(root, Latest), System.Text.Encoding.UTF8.GetBytes(Path.GetFileName(final)));
            return final;
        }
        finally
        {
            if (Directory.Exists(staging))
                Directory.Delete(staging, recursive: true);
        }
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
    public static void Verify(string folder)
    {
        var manifest = Path.Combine(folder, Manifest);
        if (!File.Exists(manifest))
            throw new CheckpointException($"{folder}: no {Manifest}; the checkpoint is partial or not a checkpoint. Refusing to load it.");
        ManifestEntry[] entries;
        try
        {
            entries = JsonSerializer.Deserialize<ManifestEntry[]>(File.ReadAllText(manifest), Json) ?? [];
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{folder}: {Manifest} is damaged ({e.Message}). Refusing to load it.");
        }
        foreach (var required in new[] { "model.bin", "optimizer.bin", "routers.bin", "state.json" })
        {
            if (!entries.Any(e => e.File == required))
                throw new CheckpointException($"{folder}: the manifest does not list {required}. Refusing to load it.");
        }
        foreach (var entry in entries)
        {
            var path = Path.Combine(folder, entry.File);
            if (!File.Exists(path))
                throw new CheckpointException($"{folder}: {entry.File} is missing. Refusing to load it.");
            if (new FileInfo(path).Length != entry.Bytes || Hash(path) != entry.Sha256)
                throw new CheckpointException($"{folder}: {entry.File} does not match its SHA-256 in the manifest (damaged or truncated). Refusing to load it.");
        }
    }

    private static void Write(string folder, string name, Action<Stream> write)
    {
        using var stream = new FileStream(Path.Combine(folder, name), FileMode.CreateNew, FileAccess.Write);
        write(stream);
        stream.Flush(flushToDisk: true);
    }

    private static string Hash(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

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
