using Moe.Actors.Training;

namespace Moe.Actors.Tests.Training;

public class TrainerSettingsTests
{
    [Fact]
    public void A_step_waits_for_q_at_most_a_fraction_of_the_recent_step_and_never_longer_than_the_cap()
    {
        var settings = new TrainerSettings { StalenessWait = TimeSpan.FromSeconds(5), StalenessWaitFraction = 0.5 };

        Assert.Equal(TimeSpan.FromSeconds(5), settings.WaitForQ(null)); // before the first step: the cap
        Assert.Equal(TimeSpan.FromMilliseconds(40), settings.WaitForQ(TimeSpan.FromMilliseconds(80))); // a GPU's short step
        Assert.Equal(TimeSpan.FromSeconds(5), settings.WaitForQ(TimeSpan.FromSeconds(30))); // a long step: the cap
        Assert.Equal(TimeSpan.FromSeconds(5), (settings with { StalenessWaitFraction = 0 }).WaitForQ(TimeSpan.FromMilliseconds(80)));
        Assert.Throws<ArgumentException>(() => (settings with { StalenessWaitFraction = -1 }).Validate());
    }
}
