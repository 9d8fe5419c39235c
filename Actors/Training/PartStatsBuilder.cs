using Moe.Model.Training;

namespace Moe.Actors.Training;

/// <summary>
/// Adds up what a trainer's steps in one round measured into its <see cref="PartStats"/>. Skipped steps (loss or
/// gradient norm not finite) count for time only: nothing of them took effect, so loss, tokens and balance are
/// those of the steps taken (NaN when none was).
/// </summary>
internal sealed class PartStatsBuilder(string trainerId, int moeLayers)
{
    private readonly double[] _layerMaxVioSum = new double[moeLayers];
    private double _lossSum, _worstMaxVio;
    private long _tokens;
    private int _staleSteps, _takenSteps;
    private TimeSpan _waiting, _stepping;

    /// <param name="fresh">Whether the q the staleness bound asks for arrived in time.</param>
    public void Waited(TimeSpan waited, bool fresh)
    {
        _waiting += waited;
        if (!fresh)
            _staleSteps++;
    }

    public void Stepped(TimeSpan stepped, StepMetrics metrics)
    {
        _stepping += stepped;
        if (metrics.Skipped)
            return;
        _takenSteps++;
        _lossSum += metrics.Loss;
        _tokens += metrics.Tokens;
        _worstMaxVio = Math.Max(_worstMaxVio, metrics.WorstMaxVio);
        foreach (var layer in metrics.Layers)
            _layerMaxVioSum[layer.Layer] += layer.Measures.MaxVio;
    }

    public PartStats Build() =>
        new(trainerId, _tokens, _lossSum / _takenSteps, _stepping.TotalSeconds, _waiting.TotalSeconds, _staleSteps,
            [.. _layerMaxVioSum.Select(sum => sum / _takenSteps)], _worstMaxVio);
}
