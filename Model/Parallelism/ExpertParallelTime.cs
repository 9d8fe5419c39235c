namespace Moe.Model.Parallelism;

/// <summary>One MoE layer's modelled time in one training step under expert parallelism (forward and backward).</summary>
/// <param name="ComputeSeconds">The most loaded rank's expert matmuls: every other rank waits for it.</param>
/// <param name="CommunicationSeconds">Dispatch and combine, forward and backward: four all-to-alls, each as long as the
/// rank that sends or receives the most bytes.</param>
public sealed record LayerStepTime(double ComputeSeconds, double CommunicationSeconds)
{
    public double Seconds => ComputeSeconds + CommunicationSeconds;
}

/// <summary>
/// A model of what expert loads cost when the experts of a layer are spread over E ranks, from the loads alone
/// (docs/results.md). Tokens start evenly spread over the ranks and each copy goes to the rank of its expert; a
/// rank's matmuls take its copies times the expert's FLOPs per copy, at the hardware's efficiency.
/// </summary>
public static class ExpertParallelTime
{
    /// <param name="loads">Token copies routed to each expert in the step, all ranks' tokens together.</param>
    public static LayerStepTime Layer(ReadOnlySpan<double> loads, ExpertPlacement placement, ExpertParallelSetup setup)
    {
        if (loads.Length != placement.Experts)
            throw new ArgumentException($"Loads must have one entry per expert ({placement.Experts}), got {loads.Length}.", nameof(loads));
        var ranks = placement.Ranks;
        var rankLoad = new double[ranks];
        for (var j = 0; j < loads.Length; j++)
            rankLoad[placement.RankOf(j)] += loads[j];

        // Three matmuls of dim x hidden, 2 FLOPs per multiply-add, and the backward pass twice the forward.
        var flopsPerCopy = 3.0 * 2 * 3 * setup.Dim * (double)setup.ExpertHidden;
        var compute = rankLoad.Max() * flopsPerCopy / (setup.FlopsPerSecond * setup.Efficiency);

        // Rank s sends rank r (r != s) rankLoad[r] / E copies: its share of the tokens routed to r's experts.
        var bytesPerCopy = (double)setup.Dim * setup.BytesPerElement;
        var slowest = 0.0;
        for (var r = 0; r < ranks; r++)
        {
            double sendNear = 0, sendFar = 0, receiveNear = 0, receiveFar = 0;
            for (var other = 0; other < ranks; other++)
            {
                if (other == r)
                    continue;
                var near = other / setup.RanksPerNode == r / setup.RanksPerNode;
                var sent = rankLoad[other] / ranks * bytesPerCopy;
                var received = rankLoad[r] / ranks * bytesPerCopy;
                if (near)
                    (sendNear, receiveNear) = (sendNear + sent, receiveNear + received);
                else
                    (sendFar, receiveFar) = (sendFar + sent, receiveFar + received);
            }
            // NVLink and the network carry their parts at once; a rank's all-to-all ends with the slower of them.
            var send = Math.Max(sendNear / setup.IntraNodeBytesPerSecond, sendFar / setup.InterNodeBytesPerSecond);
            var receive = Math.Max(receiveNear / setup.IntraNodeBytesPerSecond, receiveFar / setup.InterNodeBytesPerSecond);
            slowest = Math.Max(slowest, Math.Max(send, receive));
        }
        return new LayerStepTime(compute, 4 * (setup.LatencySeconds + slowest));
    }

    /// <summary>The same layer with its copies spread evenly over the experts: the time balance would give.</summary>
    public static LayerStepTime Balanced(ReadOnlySpan<double> loads, ExpertPlacement placement, ExpertParallelSetup setup)
    {
        var total = 0.0;
        foreach (var load in loads)
            total += load;
        var even = Enumerable.Repeat(total / loads.Length, loads.Length).ToArray();
        return Layer(even, placement, setup);
    }
}
