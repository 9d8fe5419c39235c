using System.CommandLine;
using System.Text.Json;
using Moe.Model.Balancing;
using Moe.Model.IO;
using Moe.Model.Routing;
using static TorchSharp.torch;

namespace Moe.Cluster.Host.Commands;

/// <summary>
/// `balance`: routes one batch of router scores from a .npy file with one method, from a zero q or bias, and
/// reports loads and balance. For inspecting a real model's routing offline.
/// </summary>
public static class BalanceCommand
{
    private static readonly string[] Methods =
        [.. new[] { RouterKind.Bip, RouterKind.QuantileBalancing, RouterKind.LossFree, RouterKind.TopK }.Select(k => k.ShortName())];

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static Command Create()
    {
        var scores = new Option<FileInfo>("--scores")
        {
            Description = "2-D .npy file of router scores [tokens, experts], little-endian float32 or float64, C order.",
            Required = true,
        };
        var topK = new Option<int>("--top-k", "-k") { Description = "Experts per token (1 <= K <= experts).", Required = true };
        var method = new Option<string>("--method")
        {
            Description = "Routing method. lossfree from a zero bias routes like topk: its bias learns across steps.",
            DefaultValueFactory = _ => RouterKind.Bip.ShortName(),
        };
        method.AcceptOnlyFromAmong(Methods);
        var iterations = new Option<int>("--iterations", "-T") { Description = "Dual iterations T (bip, qb).", DefaultValueFactory = _ => RouterConfig.DefaultIterations };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table." };

        var command = new Command("balance", "Route one batch of router scores from a .npy file and report the balance.")
        {
            scores, topK, method, iterations, json,
        };
        command.SetAction(result =>
        {
            var output = result.InvocationConfiguration.Output;
            try
            {
                var report = Run(
                    result.GetValue(scores)!.FullName, result.GetValue(topK), RouterKinds.Parse(result.GetValue(method)!),
                    result.GetValue(iterations));
                output.WriteLine(result.GetValue(json) ? JsonSerializer.Serialize(report, Json) : report.ToTable());
                return ExitCodes.Success;
            }
            catch (Exception e) when (e is NpyFormatException or ArgumentException)
            {
                result.InvocationConfiguration.Error.WriteLine($"error: {Cli.Describe(e)}");
                return ExitCodes.BadInput;
            }
        });
        return command;
    }

    public static BalanceReport Run(string path, int topK, RouterKind method, int iterations)
    {
        var matrix = NpyMatrix.Read(path);
        if (matrix.Rows == 0 || matrix.Columns == 0)
            throw new ArgumentException($"{path}: the batch is empty (shape {matrix.Rows} x {matrix.Columns}).");

        if (Array.FindIndex(matrix.Values, v => !float.IsFinite(v)) is var bad and >= 0)
            throw new ArgumentException($"{path}: score [{bad / matrix.Columns}, {bad % matrix.Columns}] is {matrix.Values[bad]}; router scores must be finite.");

        using var scope = NewDisposeScope();
        var scores = tensor(matrix.Values, [matrix.Rows, matrix.Columns]);
        var router = Routers.Create(method, new RouterConfig(matrix.Columns, topK, Iterations: iterations));
        var decision = router.Route(scores);
        var loads = decision.Loads.to(ScalarType.Int64).data<long>().ToArray();
        var measures = BalanceMeasures.FromLoads(loads);
        var q = method is RouterKind.Bip or RouterKind.QuantileBalancing
            ? router.State!.cpu().data<float>().ToArray()
            : [];
        return new BalanceReport(
            Method: method.ShortName(),
            Tokens: matrix.Rows,
            Experts: matrix.Columns,
            TopK: topK,
            Iterations: iterations,
            Dtype: matrix.SourceDtype,
            Loads: loads,
            MaxVio: measures.MaxVio,
            MinOverMean: measures.MinOverMean,
            CoefficientOfVariation: measures.CoefficientOfVariation,
            DeadExperts: measures.DeadExperts,
            ExpertParallelEfficiency: measures.ExpertParallelEfficiency,
            Objective: BalanceMeasures.Objective(scores, decision.Experts),
            Q: q);
    }
}
