// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title Dev USD, the payment token of local and test chains
/// @notice A 6-decimal stablecoin stand-in with an open faucet. For dev chains only: it is never
/// deployed to production, where buyers pay in a real stablecoin.
contract DevStablecoin is ERC20, ERC20Permit {
    constructor() ERC20("Dev USD", "dUSD") ERC20Permit("Dev USD") {}

    /// @notice 6, like the USD stablecoins it stands in for.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Faucet: anyone mints any amount to anyone. Dev chains only, never deployed to production.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
