namespace Moe.Model.Training;

public static class LearningRateSchedule
{
    /// <summary>Linear warmup to the peak over the warmup steps, then cosine decay to the minimum at the last step.</summary>
    public static double At(int step, TrainingConfig config)
    {
        var peak = config.LearningRate;
        var floor = peak * config.MinLearningRateRatio;
        if (step < config.WarmupSteps)
            return peak * (step + 1) / config.WarmupSteps;
        var decaySteps = Math.Max(1, config.Steps - config.WarmupSteps);
        var progress = Math.Min(1.0, (double)(step - config.WarmupSteps) / decaySteps);
        return floor + (0.5 * (peak - floor) * (1 + Math.Cos(Math.PI * progress)));
    }
}
