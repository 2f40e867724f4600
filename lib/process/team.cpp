#include "lib/process/team.h"

#include <chrono>
#include <cstdlib>
#include <limits>
#include <thread>

#include "base/error.h"

#ifdef KVMIX_HAVE_MPI
#include <mpi.h>
#endif

namespace kvmix {
namespace {

TeamPlace g_place;
bool g_joined = false;

bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v && *v;
}

#ifdef KVMIX_HAVE_MPI
void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(fmt::format("MPI: {} failed: {}", what, std::string(text, static_cast<size_t>(len))));
}
#endif

}  // namespace

bool built_with_mpi() {
#ifdef KVMIX_HAVE_MPI
  return true;
#else
  return false;
#endif
}

bool launched_by_mpi() {
  // Open MPI's mpirun; PMIx (Open MPI 5, srun --mpi=pmix); PMI (MPICH, srun --mpi=pmi2). A size of
  // one still counts: `mpirun -np 1` is a team of one that joins MPI like any other.
  return env_set("OMPI_COMM_WORLD_SIZE") || env_set("PMIX_RANK") || env_set("PMI_RANK") ||
         env_set("PMI_SIZE");
}

void join_team(int* argc, char*** argv) {
  if (!launched_by_mpi() || g_joined) return;
#ifdef KVMIX_HAVE_MPI
  int provided = 0;
  check_mpi(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  g_joined = true;
  // Errors come back as return codes, reported with kvmix's message, not MPI's default abort.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &g_place.rank), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &g_place.size), "MPI_Comm_size");
  MPI_Comm node;
  check_mpi(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_place.rank, MPI_INFO_NULL, &node),
            "MPI_Comm_split_type");
  check_mpi(MPI_Comm_rank(node, &g_place.local_rank), "MPI_Comm_rank (node)");
  check_mpi(MPI_Comm_size(node, &g_place.local_size), "MPI_Comm_size (node)");
  MPI_Comm_free(&node);
#else
  (void)argc, (void)argv;
  // Without MPI every rank would run the whole command and write the same files.
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (!size) size = std::getenv("PMI_SIZE");
  if (size && std::string(size) != "1")
    throw Error(
        "this kvmix was built without MPI, yet an MPI launcher started it as several ranks: rebuild with "
        "Open MPI installed (libopenmpi-dev; CMake finds it), or run one process without mpirun");
#endif
}

const TeamPlace& team() { return g_place; }

void leave_team() {
#ifdef KVMIX_HAVE_MPI
  if (g_joined) MPI_Finalize();
#endif
  g_joined = false;
}

void abort_team(int code) {
#ifdef KVMIX_HAVE_MPI
  if (g_joined && g_place.size > 1) MPI_Abort(MPI_COMM_WORLD, code);
  if (g_joined) MPI_Finalize();
#endif
  std::exit(code);
}

void release_team() {
  if (g_place.rank != 0) return;
  for (int r = 1; r < g_place.size; ++r) team_send(r, kTeamEndTag, "");
}

void team_send(int to, int tag, const std::string& bytes) {
#ifdef KVMIX_HAVE_MPI
  KVMIX_CHECK(g_joined, "team_send outside an MPI job");
  KVMIX_CHECK(bytes.size() <= static_cast<size_t>(std::numeric_limits<int>::max()),
              "MPI: a message of {} bytes is past MPI's int count", bytes.size());
  check_mpi(MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, to, tag, MPI_COMM_WORLD), "MPI_Send");
#else
  (void)to, (void)tag, (void)bytes;
  throw Error("team_send: this kvmix was built without MPI");
#endif
}

bool team_message_waiting(int from) {
#ifdef KVMIX_HAVE_MPI
  KVMIX_CHECK(g_joined, "team_message_waiting outside an MPI job");
  int flag = 0;
  MPI_Status status;
  check_mpi(MPI_Iprobe(from == kAnyRank ? MPI_ANY_SOURCE : from, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &status),
            "MPI_Iprobe");
  return flag != 0;
#else
  (void)from;
  return false;
#endif
}

std::string team_receive(int from, int* source, int* tag) {
#ifdef KVMIX_HAVE_MPI
  KVMIX_CHECK(g_joined, "team_receive outside an MPI job");
  // Polled with a short sleep rather than a blocking MPI_Probe: Open MPI's blocking calls spin, and a
  // rank waiting for a message would take a core from the rank computing on it.
  MPI_Status status;
  for (int flag = 0;;) {
    check_mpi(MPI_Iprobe(from == kAnyRank ? MPI_ANY_SOURCE : from, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &status),
              "MPI_Iprobe");
    if (flag) break;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  int count = 0;
  check_mpi(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count");
  std::string bytes(static_cast<size_t>(count), '\0');
  check_mpi(MPI_Recv(bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE),
            "MPI_Recv");
  *source = status.MPI_SOURCE;
  *tag = status.MPI_TAG;
  return bytes;
#else
  (void)from, (void)source, (void)tag;
  throw Error("team_receive: this kvmix was built without MPI");
#endif
}

}  // namespace kvmix
