using System.Globalization;
using Moe.Model.Training;

namespace Moe.Actors.Training;

/// <summary>
/// Whether a job's memory plan fits the devices of a node, before anything is allocated: CPU trainers and the
/// coordinator share the host's memory; each GPU holds its own trainers.
/// </summary>
public static class MemoryFit
{
    /// <param name="trainers">The node's trainers (<see cref="DevicePolicy.Trainers"/>).</param>
    /// <param name="coordinator">Whether the node holds the coordinator (its copies live in host memory).</param>
    /// <param name="memoryOf">The bytes a device offers and where the figure comes from (<see cref="DeviceMemory.Of"/>).</param>
    /// <returns>One line per device, and the problem (one line with the numbers) when one does not fit.</returns>
    public static (IReadOnlyList<string> Lines, string? Problem) Check(MemoryPlan plan, IReadOnlyList<(string Device, int IntraOpThreads)> trainers,
        bool coordinator, Func<string, (long? Bytes, string Source)> memoryOf)
    {
        var lines = new List<string>();
        string? problem = null;
        var devices = trainers.GroupBy(t => IsCpu(t.Device) ? "cpu" : t.Device).Select(g => (Device: g.Key, Trainers: g.Count())).ToList();
        if (coordinator && !devices.Any(d => d.Device == "cpu"))
            devices.Add(("cpu", 0));
        foreach (var (device, count) in devices)
        {
            var needed = (count * plan.TrainerBytes) + (device == "cpu" && coordinator ? plan.CoordinatorBytes : 0);
            var what = string.Join(" + ", new[]
            {
                count > 0 ? $"{count} trainer{(count == 1 ? "" : "s")} x {MemoryPlan.Gib(plan.TrainerBytes)}" : null,
                device == "cpu" && coordinator ? $"the coordinator's {MemoryPlan.Gib(plan.CoordinatorBytes)}" : null,
            }.OfType<string>());
            var (bytes, source) = memoryOf(device);
            if (bytes is not { } offered)
            {
                lines.Add($"{device}: {what} = {MemoryPlan.Gib(needed)}; the device's memory is {source}");
                continue;
            }
            var fits = needed <= offered;
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{device}: {what} = {MemoryPlan.Gib(needed)} of {MemoryPlan.Gib(offered)} ({source}): {(fits ? "fits" : "does not fit")}"));
            problem ??= fits ? null
                : $"the job does not fit {device}: {what} = {MemoryPlan.Gib(needed)}, but it has {MemoryPlan.Gib(offered)} ({source}); " +
                  "use fewer trainers (Trainer:Count), a smaller --batch-size with --grad-accum, or a smaller model";
        }
        return (lines, problem);
    }

    // "auto" is left only where the node sees no GPU (DevicePolicy turns it into cuda:k otherwise).
    private static bool IsCpu(string device) => device.StartsWith("cpu", StringComparison.OrdinalIgnoreCase) || device.Equals("auto", StringComparison.OrdinalIgnoreCase);
}
