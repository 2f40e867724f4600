// A process started without an MPI launcher is a team of one and never touches MPI.
#include <catch2/catch.hpp>

#include "lib/process/team.h"

namespace kvmix {

TEST_CASE("team: without a launcher, a plain process is rank 0 of 1 and joining changes nothing", "[process]") {
  // ctest starts this program directly: no launcher variables.
  REQUIRE_FALSE(launched_by_mpi());
  int argc = 1;
  char name[] = "kvmix_tests";
  char* args[] = {name, nullptr};
  char** argv = args;
  join_team(&argc, &argv);
  const TeamPlace& t = team();
  CHECK(t.rank == 0);
  CHECK(t.size == 1);
  CHECK(t.local_rank == 0);
  CHECK(t.local_size == 1);
  CHECK(argc == 1);
  release_team();  // rank 0 of 1: nobody to tell
  // Messages belong to a job: asking outside one is an error, not a silent "nothing".
  if (built_with_mpi())
    CHECK_THROWS_WITH(team_send(1, 1, "x"), Catch::Contains("outside an MPI job"));
  else
    CHECK_THROWS_WITH(team_send(1, 1, "x"), Catch::Contains("built without MPI"));
}

}  // namespace kvmix
