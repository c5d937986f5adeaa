// `amrs agents` and `amrs worlds`: the registered plugins, as the libraries describe them.
#pragma once

#include <string>
#include <vector>

int ListAgents(const std::vector<std::string>& args);
int ListWorlds(const std::vector<std::string>& args);
