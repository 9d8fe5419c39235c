using System.Collections.Immutable;
using Moe.Actors.Blobs;

namespace Moe.Actors.Training.Protocol;

/// <summary>What the protocol decided: the next state and what the actor is to do about it, in order.</summary>
public sealed record Decision(RoundProtocolState State, ImmutableArray<ICoordinatorEffect> Effects);

/// <summary>
/// The coordinator's DiLoCo round protocol as a pure state machine: every registered trainer gets the global
/// parameters and a data shard; the round commits when a quorum finished (else it runs again); trainers join at
/// the next round and one that dies or fails is dropped from its round; with overlapping rounds the next round
/// starts while a round's outer step and journal write run, and its parameters follow when they are committed.
/// No actor, clock or randomness: the actor passes the time in and carries the effects out.
/// </summary>
public static class RoundProtocol
{
    public static Decision Decide(RoundProtocolState state, ICoordinatorInput input, DateTime now)
    {
        var run = new Run(now);
        var next = input switch
        {
            TrainerJoined j => run.TryStart(run.Joined(state, j.TrainerId)),
            TrainerLeft l => state.Members.Contains(l.TrainerId)
                ? run.Drop(state with { Members = state.Members.Remove(l.TrainerId) }, l.TrainerId, state.Running?.Attempt, "the trainer stopped or its node left the cluster")
                : state,
            TrainerUnreachable u => state.Members.Contains(u.TrainerId)
                ? run.Drop(state with { Members = state.Members.Remove(u.TrainerId) }, u.TrainerId, state.Running?.Attempt, "its node became unreachable")
                : state,
            BalancersReady => run.TryStart(state with { BalancersReady = true }),
            Tick => run.TryStart(run.Verify(run.ConfigureIfNeeded(state))),
            ResultReceived r => run.Received(state, r.Result),
            PartFailed f => run.Drop(state, f.TrainerId, f.Attempt, f.Reason),
            RoundTimedOut t => run.TimedOut(state, t.Attempt),
            OuterStepDone d => run.StepDone(state, d),
            OuterStepFailed f => run.StepFailed(state, f.Attempt),
            JobPersisted p => run.JobStarted(state, p.Event),
            RoundPersisted p => run.Committed(state, p.Event),
            Recovered => run.Verify(state),
            CheckpointsVerified v => run.Verified(state, v),
            VerificationFailed => state with { Verifying = false }, // the next tick checks again
            RollbackPersisted p => run.RolledBack(state, p.Event),
            _ => throw new ArgumentException($"Unknown coordinator input {input.GetType().Name}.", nameof(input)),
        };
        return new Decision(next, [.. run.Effects]);
    }

    /// <summary>One decision's effects, gathered in order.</summary>
    private sealed class Run(DateTime now)
    {
        public List<ICoordinatorEffect> Effects { get; } = [];

        public RoundProtocolState Joined(RoundProtocolState state, string trainer)
        {
            var members = state.Members.Add(trainer);
            Effects.Add(new Log(LogLevel.Info, $"Trainer {trainer} joined ({members.Count} members); it takes part from the next round"));
            return state with { Members = members };
        }

        public RoundProtocolState ConfigureIfNeeded(RoundProtocolState state)
        {
            if (state.Spec is { } spec && !state.BalancersReady)
                Effects.Add(new ConfigureBalancers(spec));
            return state;
        }

        public RoundProtocolState JobStarted(RoundProtocolState state, JobStartedEvent e)
        {
            var outer = e.Spec.Sliced ? $"an outer step in {e.Spec.Slices} slices" : "a central outer step";
            Effects.Add(new Log(LogLevel.Info, $"Job {e.Spec.JobId} started: {e.Spec.Rounds} rounds of {e.Spec.InnerSteps} inner steps, {outer}"));
            Effects.Add(new ConfigureBalancers(e.Spec));
            return state with { Journal = state.Journal.Apply(e), Verified = true }; // its parameters were just written
        }

        /// <summary>
        /// A recovered job checks that its latest checkpoint reads back before any round starts from it; so does a job
        /// whose round or outer step failed, since a damaged checkpoint fails every round that starts from it.
        /// </summary>
        public RoundProtocolState Verify(RoundProtocolState state)
        {
            // Not while a round commits: the check would not know of the checkpoint being written.
            if (state.Spec is null || state.Verified || state.Verifying || state.Problem is not null || state.Committing is not null)
                return state;
            Effects.Add(new VerifyCheckpoints([.. state.Kept]));
            return state with { Verifying = true };
        }

        public RoundProtocolState Verified(RoundProtocolState state, CheckpointsVerified verified)
        {
            state = state with { Verifying = false };
            var latest = state.Journal.Latest!.Round;
            if (verified.Round == latest)
                return TryStart(state with { Verified = true });
            if (verified.Round is { } earlier)
            {
                Effects.Add(new PersistRollback(new RoundsRolledBackEvent(earlier, verified.Problem)));
                return state;
            }
            var problem = $"no kept checkpoint of job {state.Spec!.JobId} reads back ({verified.Problem}); restore the blobs, or start a new job id";
            Effects.Add(new Log(LogLevel.Error, problem));
            Effects.Add(new FailJob(problem));
            return state with { Problem = problem };
        }

        public RoundProtocolState RolledBack(RoundProtocolState state, RoundsRolledBackEvent e)
        {
            Effects.Add(new Log(LogLevel.Warning, $"Resuming from round {e.ToRound} (the rounds after it run again): {e.Problem}"));
            var abandoned = state.Journal.Checkpoints.Where(c => c.Round > e.ToRound).SelectMany(c => new[] { c.Parameters, c.Momentum }).OfType<BlobRef>().ToList();
            state = DeleteUnreferenced(state with { Journal = state.Journal.Apply(e), Verified = true }, abandoned);
            return TryStart(state);
        }

        /// <summary>Starts the next round if the job, the balancers and a quorum of trainers are ready.</summary>
        public RoundProtocolState TryStart(RoundProtocolState state)
        {
            if (state.Spec is not { } spec || state.Running is not null || !state.BalancersReady || !state.Verified || state.Problem is not null
                || state.Journal.Finished || state.Members.Count < spec.Quorum)
            {
                return state;
            }
            int number;
            ShardPlan planBefore;
            BlobRef? parameters;
            if (state.Committing is not { } committing)
                (number, planBefore, parameters) = (state.Journal.CommittedRounds, state.Journal.Plan, state.Journal.Parameters);
            else if (spec.Overlaps && committing.Number + 1 < spec.Rounds)
                (number, planBefore, parameters) = (committing.Number + 1, committing.PlanAfterRound, null); // parameters follow the commit
            else
                return state;
            var members = state.Members.ToArray();
            var (plan, shards) = planBefore.Assign(members.Length);
            var attempt = $"{state.Incarnation}-{state.Attempts + 1}";
            var assigned = members.Select((m, k) => KeyValuePair.Create(m, shards[k])).ToImmutableSortedDictionary(StringComparer.Ordinal);
            var round = new Round(number, attempt, assigned, plan, now, parameters);
            var bounded = spec with { MaxStaleness = StalenessBound.After(spec, state.Journal.Checkpoints.Select(c => c.Event).OfType<RoundCommittedEvent>()) };
            for (var k = 0; k < members.Length; k++)
                Effects.Add(new SendRoundStart(members[k], new RoundStart(bounded, number, attempt, parameters, shards[k], members.Length)));
            Effects.Add(new StartRoundTimer(attempt, spec.RoundTimeout));
            Effects.Add(new Log(LogLevel.Info, $"Round {number} started with {members.Length} trainers (attempt {attempt}{(parameters is null ? ", overlapping the commit of the round before" : "")})"));
            return state with { Running = round, Attempts = state.Attempts + 1 };
        }

        public RoundProtocolState Received(RoundProtocolState state, RoundResult result)
        {
            if (state.Running is not { } round || result.Attempt != round.Attempt || !round.Expected.Contains(result.TrainerId))
            {
                Effects.Add(new Log(LogLevel.Info, $"Ignoring a result of trainer {result.TrainerId} for round {result.Round} (attempt {result.Attempt}): not expected now"));
                return state;
            }
            round = round with { Expected = round.Expected.Remove(result.TrainerId), Results = round.Results.SetItem(result.TrainerId, result) };
            return round.AllReported ? CommitOrRetry(state, round) : state with { Running = round };
        }

        public RoundProtocolState Drop(RoundProtocolState state, string trainer, string? attempt, string reason)
        {
            if (state.Running is not { } round || round.Attempt != attempt || !round.Expected.Contains(trainer))
                return state;
            Effects.Add(new Log(LogLevel.Warning, $"Trainer {trainer} dropped from round {round.Number}: {reason}"));
            Effects.Add(StepsOf(state, round, trainer));
            round = round with { Expected = round.Expected.Remove(trainer) };
            return round.AllReported ? CommitOrRetry(state, round) : state with { Running = round };
        }

        public RoundProtocolState TimedOut(RoundProtocolState state, string attempt)
        {
            if (state.Running is not { ReadyToCommit: false } round || round.Attempt != attempt)
                return state;
            Effects.Add(new Log(LogLevel.Warning, $"Round {round.Number} timed out waiting for {string.Join(", ", round.Expected)}"));
            foreach (var trainer in round.Expected)
                Effects.Add(StepsOf(state, round, trainer));
            return CommitOrRetry(state, round with { Expected = round.Expected.Clear() });
        }

        // Every step of the round: those the trainer already reported are merged, the rest close without it.
        private static ReleaseSteps StepsOf(RoundProtocolState state, Round round, string trainer)
        {
            var steps = state.Spec!.InnerSteps;
            return new ReleaseSteps(trainer, (long)round.Number * steps, ((long)round.Number * steps) + steps - 1);
        }

        private RoundProtocolState CommitOrRetry(RoundProtocolState state, Round round)
        {
            var quorum = state.Spec!.Quorum;
            if (round.Results.Count < quorum)
            {
                Effects.Add(new Log(LogLevel.Warning, $"Round {round.Number} has {round.Results.Count} results, quorum is {quorum}: running it again once its checkpoint reads back"));
                return DeleteUnreferenced(state with { Running = null, Verified = false }, round.Deltas); // the next tick checks, then starts it again
            }
            Effects.Add(CancelRoundTimer.Instance);
            return state.Committing is not null
                ? state with { Running = round with { ReadyToCommit = true } } // commits right after the round before it
                : Commit(state, round);
        }

        private RoundProtocolState Commit(RoundProtocolState state, Round round)
        {
            round = round with { CommitStarted = now };
            Effects.Add(new RunOuterStep(round.Attempt, state.Spec!, state.Journal.Parameters!, state.Journal.Momentum, [.. round.Results.Values]));
            return TryStart(state with { Running = null, Committing = round }); // an overlapped round starts now
        }

        public RoundProtocolState StepDone(RoundProtocolState state, OuterStepDone done)
        {
            if (state.Committing is not { } round || round.Attempt != done.Attempt)
                return state;
            // A round that overlapped the commit of the one before counts from that commit: round times add up to
            // the job's time, and tokens over round time stay tokens per second of wall time.
            var previous = state.Journal.LastRound;
            var since = previous is not null && previous.CommittedAt > round.Started ? previous.CommittedAt : round.Started;
            Effects.Add(new PersistRound(new RoundCommittedEvent(round.Number, done.Parameters, done.Momentum, round.PlanAfterRound,
                [.. round.Results.Values.Select(r => r.Stats)], now, (now - since).TotalSeconds)
            {
                Q = GlobalQ.Newest([.. round.Results.Values.Select(r => r.Q), previous?.Q]),
                Vocabulary = round.Results.Values.Select(r => r.Vocabulary).FirstOrDefault(v => v is not null) ?? previous?.Vocabulary,
            }));
            return state;
        }

        /// <summary>
        /// Nothing was persisted, so the round simply runs again, and an overlapped round after it is abandoned (the
        /// parameters it was to start from will not exist).
        /// </summary>
        public RoundProtocolState StepFailed(RoundProtocolState state, string attempt)
        {
            if (state.Committing is not { } round || round.Attempt != attempt)
                return state;
            Effects.Add(new Log(LogLevel.Warning, $"Round {round.Number} runs again once its checkpoint reads back: its outer step failed"));
            state = DeleteUnreferenced(state with { Committing = null, Verified = false }, round.Deltas);
            if (state.Running is not { } overlapped)
                return state;
            Effects.Add(CancelRoundTimer.Instance);
            return DeleteUnreferenced(state with { Running = null }, overlapped.Deltas);
        }

        public RoundProtocolState Committed(RoundProtocolState state, RoundCommittedEvent e)
        {
            if (state.Committing is not { } round || round.Number != e.Round)
                throw new InvalidOperationException($"Round {e.Round} was persisted while round {state.Committing?.Number.ToString() ?? "none"} was committing.");
            state = state with { Journal = state.Journal.Apply(e), Committing = null };
            Effects.Add(new RoundCommitted(e, (now - round.CommitStarted).TotalSeconds, state.Journal.CommittedRounds));
            // The checkpoint that is no longer kept goes with the round's deltas.
            var checkpoints = state.Journal.Checkpoints;
            var dropped = checkpoints.Count > state.KeepRounds ? checkpoints[checkpoints.Count - 1 - state.KeepRounds] : null;
            state = DeleteUnreferenced(state, round.Deltas.Append(dropped?.Parameters).Append(dropped?.Momentum).OfType<BlobRef>());
            if (state.Journal.Finished)
            {
                Effects.Add(new AnnounceFinished(new JobFinished(state.Spec!.JobId, state.Journal.CommittedRounds)));
                return state;
            }
            return state.Running is { Parameters: null } overlapped ? SendParameters(state, overlapped, e.Parameters) : TryStart(state);
        }

        // The overlapped round's trainers learn the parameters it started from; if it finished meanwhile, it commits.
        private RoundProtocolState SendParameters(RoundProtocolState state, Round overlapped, BlobRef parameters)
        {
            overlapped = overlapped with { Parameters = parameters };
            foreach (var trainer in overlapped.Assigned.Keys.Where(state.Members.Contains))
                Effects.Add(new SendRoundParameters(trainer, new RoundParameters(state.Spec!.JobId, overlapped.Number, overlapped.Attempt, parameters)));
            return overlapped.ReadyToCommit ? Commit(state, overlapped) : state with { Running = overlapped };
        }

        // Content addressing makes equal content one blob: with one trainer, the first momentum equals its delta, and
        // two rounds may deliver equal deltas. Only blobs that neither a kept checkpoint nor a round still running or
        // committing points at may go.
        private RoundProtocolState DeleteUnreferenced(RoundProtocolState state, IEnumerable<BlobRef> blobs)
        {
            var kept = state.Kept.SelectMany(c => new[] { c.Parameters, c.Momentum }).OfType<BlobRef>().ToHashSet();
            var unreferenced = blobs.Distinct()
                .Where(b => !kept.Contains(b) && state.Running?.Deltas.Contains(b) != true && state.Committing?.Deltas.Contains(b) != true)
                .ToImmutableArray();
            if (!unreferenced.IsEmpty)
                Effects.Add(new DeleteBlobs(unreferenced));
            return state;
        }
    }
}
