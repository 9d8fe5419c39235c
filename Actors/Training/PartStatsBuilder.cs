using Moe.Model.Training;

namespace Moe.Actors.Training;

/// <summary>Adds up what a trainer's steps in one round measured into its <see cref="PartStats"/>.</summary>
internal sealed class PartStatsBuilder(string trainerId, int moeLayers, int innerSteps)
{
    private readonly double[] _layerMaxVio = new double[moeLayers];
    private double _lossSum, _worstMaxVio;
    private long _tokens;
    private int _staleSteps, _skippedSteps;
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
        {
            _skippedSteps++; // its loss is not finite and nothing of it took effect
            return;
        }
        _lossSum += metrics.Loss;
        _tokens += metrics.Tokens;
        _worstMaxVio = Math.Max(_worstMaxVio, metrics.WorstMaxVio);
        foreach (var layer in metrics.Layers)
            _layerMaxVio[layer.Layer] += layer.Measures.MaxVio / innerSteps;
    }

    public PartStats Build() =>
        new(trainerId, _tokens, _lossSum / (innerSteps - _skippedSteps), _stepping.TotalSeconds, _waiting.TotalSeconds, _staleSteps, [.. _layerMaxVio], _worstMaxVio);
}
