namespace Moe.Actors.Training;

/// <summary>
/// What one trainer's part of a round did, as the trainer measured it. The coordinator keeps these in the round's
/// record, so a report of a finished job shows stragglers, q-waits and per-layer balance without any log.
/// </summary>
/// <param name="StepSeconds">Time inside the H training steps.</param>
/// <param name="WaitSeconds">Time waiting for global q (bounded staleness) between steps.</param>
/// <param name="LayerMaxVio">MaxVio_batch of each MoE layer, averaged over the part's steps.</param>
/// <param name="WorstMaxVio">The largest MaxVio_batch of any layer in any step of the part.</param>
public sealed record PartStats(
    string TrainerId,
    long Tokens,
    double MeanLoss,
    double StepSeconds,
    double WaitSeconds,
    int StaleSteps,
    double[] LayerMaxVio,
    double WorstMaxVio)
{
    public double TokensPerSecond => StepSeconds > 0 ? Tokens / StepSeconds : double.NaN;

    public double MeanMaxVio => LayerMaxVio.Length == 0 ? 0 : LayerMaxVio.Average();
}
