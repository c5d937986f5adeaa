// Uses the installed library: generates a tiny population and checks its size.
#include <iostream>

#include "amrs/data/summary.h"
#include "amrs/data/synthetic.h"

int main() {
  amrs::data::GeneratorConfig c;
  c.num_users = 10;
  c.num_sessions = 30;
  c.num_interactions = 120;
  c.num_songs = 50;
  c.embedding_dim = 8;
  c.num_splits = 1;
  const auto s = amrs::data::Summarize(amrs::data::Generate(c));
  std::cout << "consumer: " << s.users << " users, " << s.interactions << " interactions\n";
  return (s.users == 10 && s.interactions == 120) ? 0 : 1;
}
