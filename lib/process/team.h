#pragma once
// The processes of one kvmix job. Started by mpirun or srun, kvmix runs as N ranks of one MPI job
// that share its work (search/team_work.h); started plainly, or built without MPI, it is a team of
// one and never touches MPI. MPI is initialized only when a launcher started the process (its
// environment says so), because a singleton MPI_Init under Open MPI starts a helper daemon and
// can fail on a machine without a working MPI setup: a plain `kvmix tune` must not depend on it.
//
// Rank 0 drives: it alone reads and writes the run folder. The other ranks load the model and
// answer work items rank 0 sends them until it ends the job.
#include <string>

namespace kvmix {

struct TeamPlace {
  int rank = 0;
  int size = 1;
  int local_rank = 0;  // among the ranks on this node: which GPU, and the node's CPU share
  int local_size = 1;
};

// Whether this kvmix was built with MPI.
bool built_with_mpi();

// Whether the environment says an MPI launcher started this process (Open MPI's mpirun, PMIx or
// PMI as srun sets them).
bool launched_by_mpi();

// Joins the MPI job when launched_by_mpi() (MPI_Init_thread, funneled: only the main thread calls
// MPI); otherwise does nothing. A kvmix without MPI started by mpirun is an Error: N copies of
// one command would each write the same run folder.
void join_team(int* argc, char*** argv);

// This process's place: {0, 1, 0, 1} for a plain process.
const TeamPlace& team();

// Ends the job normally; every rank calls it, after the last message (MPI_Finalize).
void leave_team();

// Stops every rank of the job at once with `code` as the exit status (MPI_Abort). In a plain
// process, exits with `code`.
[[noreturn]] void abort_team(int code);

// Rank 0, at the normal end of a command: sends every other rank kTeamEndTag, which ends its
// serve loop (search/team_work.h). Then every rank calls leave_team().
inline constexpr int kTeamEndTag = 2;
void release_team();

// Messages between ranks: a tag and bytes, in order per pair of ranks.
void team_send(int to, int tag, const std::string& bytes);
inline constexpr int kAnyRank = -1;
// Whether a message from `from` (kAnyRank: any rank) has arrived and waits to be received.
bool team_message_waiting(int from);
// Blocks until a message from `from` (kAnyRank: any rank) arrives; returns its bytes and sets
// *source and *tag.
std::string team_receive(int from, int* source, int* tag);

}  // namespace kvmix
