using Moe.Actors.Balancing;
using Moe.Actors.Tests.Support;
using Moe.Model.Balancing;

namespace Moe.Actors.Tests.Balancing;

public class PendingStepsTests
{
    [Fact]
    public void Summaries_binned_with_another_window_are_rebinned_into_the_one_most_tokens_used_and_every_token_is_kept()
    {
        var spec = Summaries.Spec;
        using var scores = Summaries.Scores(600, spec.Experts, seed: 5);
        var fixedRange = ReadoutWindow.Fixed(spec.Range, spec.Experts);
        var window = new ReadoutWindow(2, [.. Enumerable.Repeat(0f, spec.Experts)], [.. Enumerable.Repeat(0.2f, spec.Experts)], spec.Range.Bins);
        var inWindow = Summaries.Split("job", 0, 4, scores, 3, spec, window);
        var inFixedRange = Summaries.Split("job", 0, 4, scores, 3, spec);
        var pending = new PendingSteps(spec);

        pending.Add(inWindow[0], DateTime.UtcNow);
        pending.Add(inFixedRange[1], DateTime.UtcNow); // a trainer that missed the window's publication
        pending.Add(inWindow[2], DateTime.UtcNow);
        var ready = Assert.Single(pending.TakeReady(window: 10, TimeSpan.FromMinutes(1), DateTime.UtcNow));
        var (merged, rebinned) = pending.Merged(ready);

        var expected = new ExpertHistogram(window);
        expected.AddValidated(inWindow[0].Histogram, 200);
        expected.AddValidated(inWindow[2].Histogram, 200);
        var missed = new ExpertHistogram(fixedRange);
        missed.AddValidated(inFixedRange[1].Histogram, 200);
        expected.AddRebinned(missed);
        Assert.Same(window, merged.Window);
        Assert.Equal(1, rebinned);
        Assert.Equal(600, merged.Tokens);
        Assert.True(expected.Counts.SequenceEqual(merged.Counts));
    }
}
