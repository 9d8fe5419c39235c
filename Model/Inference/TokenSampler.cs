namespace Moe.Model.Inference;

/// <summary>
/// Picks the next token from its logits: the most likely at temperature 0; otherwise from softmax(logits / T)
/// restricted to the most likely tokens whose probabilities first reach <c>topP</c> (nucleus sampling). Seeded, so
/// the same prompt and seed give the same text.
/// </summary>
public sealed class TokenSampler
{
    private readonly double _temperature;
    private readonly double _topP;
    private readonly Random _random;

    public TokenSampler(double temperature, double topP, int seed)
    {
        if (!(temperature >= 0) || double.IsInfinity(temperature))
            throw new ArgumentException($"The temperature must be 0 (greedy) or positive, got {temperature}.", nameof(temperature));
        if (!(topP > 0 && topP <= 1))
            throw new ArgumentException($"top-p must be in (0, 1], got {topP}.", nameof(topP));
        _temperature = temperature;
        _topP = topP;
        _random = new Random(seed);
    }

    public int Next(ReadOnlySpan<float> logits)
    {
        var best = 0;
        for (var i = 1; i < logits.Length; i++)
        {
            if (logits[i] > logits[best])
                best = i;
        }
        if (_temperature == 0)
            return best;

        var probabilities = new double[logits.Length];
        double sum = 0;
        for (var i = 0; i < logits.Length; i++)
        {
            probabilities[i] = Math.Exp((logits[i] - logits[best]) / _temperature);
            sum += probabilities[i];
        }
        var order = Enumerable.Range(0, logits.Length).OrderByDescending(i => probabilities[i]).ThenBy(i => i).ToArray();
        var kept = 0;
        double mass = 0;
        while (kept < order.Length && (kept == 0 || mass < _topP * sum))
            mass += probabilities[order[kept++]];

        var draw = _random.NextDouble() * mass;
        for (var k = 0; k < kept; k++)
        {
            draw -= probabilities[order[k]];
            if (draw <= 0)
                return order[k];
        }
        return order[kept - 1];
    }
}
