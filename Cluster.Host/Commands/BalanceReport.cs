using System.Globalization;
using System.Text;

namespace Moe.Cluster.Host.Commands;

/// <summary>What `balance` prints; property names are the JSON field names (camelCase).</summary>
public sealed record BalanceReport(
    string Method,
    int Tokens,
    int Experts,
    int TopK,
    int Iterations,
    string Dtype,
    long[] Loads,
    double MaxVio,
    double MinOverMean,
    double CoefficientOfVariation,
    int DeadExperts,
    double ExpertParallelEfficiency,
    double Objective,
    float[] Q)
{
    public string ToTable()
    {
        var text = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        text.AppendLine(inv, $"method {Method}: {Tokens} tokens ({Dtype}), {Experts} experts, top-{TopK}, T = {Iterations}");
        text.AppendLine(inv, $"  MaxVio                {MaxVio:F4}");
        text.AppendLine(inv, $"  min / mean load       {MinOverMean:F4}");
        text.AppendLine(inv, $"  coeff. of variation   {CoefficientOfVariation:F4}");
        text.AppendLine(inv, $"  dead experts          {DeadExperts}");
        text.AppendLine(inv, $"  EP efficiency         {ExpertParallelEfficiency:F4}");
        text.AppendLine(inv, $"  objective (sum s)     {Objective:F4}");
        text.AppendLine(inv, $"  loads                 {string.Join(' ', Loads)}");
        if (Q.Length > 0)
            text.Append(inv, $"  q                     {string.Join(' ', Q.Select(v => v.ToString("G4", inv)))}");
        return text.ToString().TrimEnd();
    }
}
