using Akka.Actor;
using Moe.Actors.Training;
using Moe.Actors.Training.Protocol;
using Moe.Model.Network;

namespace Moe.Actors.Tests.Training;

public sealed class JobAdmissionTests
{
    private static readonly JobSpec Recorded = new JobSpec { JobId = "job", Preset = "tiny", Rounds = 20 }.Resolve();

    [Fact]
    public void A_resume_compares_only_the_settings_the_user_gave()
    {
        var admission = new JobAdmission();
        var changedDefaults = new JobSpec { JobId = "job", Preset = "tiny", Rounds = 20, Seed = 7, OverlapSteps = 3 };

        Assert.IsType<JobAdmission.Verdict.Running>(admission.Admit(Recorded, new StartJob(changedDefaults, ["JobId", "Rounds"]), ActorRefs.Nobody));
        Assert.IsType<JobAdmission.Verdict.Running>(admission.Admit(Recorded, new StartJob(changedDefaults, []), ActorRefs.Nobody));
    }

    [Fact]
    public void A_given_setting_that_differs_is_refused_with_each_difference_named()
    {
        var admission = new JobAdmission();
        var given = new JobSpec { JobId = "job", Preset = "small-16e", Rounds = 30, Seed = 7 };

        var verdict = admission.Admit(Recorded, new StartJob(given, ["Rounds", "Preset", "Seed"]), ActorRefs.Nobody);

        var reason = Assert.IsType<JobAdmission.Verdict.Rejected>(verdict).Reason;
        Assert.Contains("Rounds: recorded 20, given 30", reason, StringComparison.Ordinal);
        Assert.Contains("Preset: recorded tiny, given small-16e", reason, StringComparison.Ordinal);
        Assert.Contains("Seed: recorded 1, given 7", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Slices_left_to_the_job_match_what_it_decided_and_slices_given_must_match_it()
    {
        var admission = new JobAdmission();
        var recorded = Recorded with { Slices = 0 };

        Assert.IsType<JobAdmission.Verdict.Running>(admission.Admit(recorded, new StartJob(new JobSpec { JobId = "job", Preset = "tiny", Rounds = 20 }), ActorRefs.Nobody));
        var refused = admission.Admit(recorded, new StartJob(new JobSpec { JobId = "job", Preset = "tiny", Rounds = 20, Slices = 4 }), ActorRefs.Nobody);
        Assert.Contains("Slices: recorded 0, given 4", Assert.IsType<JobAdmission.Verdict.Rejected>(refused).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_resumed_job_keeps_its_recorded_model_when_its_preset_changes_later()
    {
        // As if the tiny preset had grown since the job started: the job keeps the shape it recorded.
        var recorded = Recorded with { ResolvedModel = Recorded.Model with { Dim = 48 } };

        Assert.Equal(48, recorded.Model.Dim);
        Assert.NotEqual(48, ModelPresets.Get("tiny").Model.Dim);
        Assert.IsType<JobAdmission.Verdict.Running>(new JobAdmission().Admit(recorded, new StartJob(new JobSpec { JobId = "job", Preset = "tiny" }, ["Preset"]), ActorRefs.Nobody));
    }

    [Fact]
    public void Another_job_or_an_invalid_one_is_refused()
    {
        var admission = new JobAdmission();

        Assert.Contains("one job per cluster", Assert.IsType<JobAdmission.Verdict.Rejected>(
            admission.Admit(Recorded, new StartJob(new JobSpec { JobId = "other" }), ActorRefs.Nobody)).Reason, StringComparison.Ordinal);
        Assert.Contains("Job:Rounds", Assert.IsType<JobAdmission.Verdict.Rejected>(
            admission.Admit(null, new StartJob(new JobSpec { JobId = "job", Rounds = 0 }), ActorRefs.Nobody)).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Requests_while_a_job_is_created_wait_and_are_admitted_again_once_it_exists()
    {
        var admission = new JobAdmission();
        var start = new StartJob(new JobSpec { JobId = "job" });

        Assert.IsType<JobAdmission.Verdict.Create>(admission.Admit(null, start, ActorRefs.Nobody));
        Assert.IsType<JobAdmission.Verdict.Waiting>(admission.Admit(null, start, ActorRefs.Nobody));
        var waiting = admission.Settled();

        Assert.Single(waiting);
        Assert.Empty(admission.Settled());
        Assert.IsType<JobAdmission.Verdict.Running>(admission.Admit(start.Spec.Resolve(), waiting[0].Command, waiting[0].ReplyTo));
    }
}
